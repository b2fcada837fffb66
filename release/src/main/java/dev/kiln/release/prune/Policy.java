package dev.kiln.release.prune;

import java.time.Duration;

/**
 * What kiln prune may delete, before protections: versions beyond the newest {@code keep} of each
 * image and/or built longer than {@code olderThan} ago. With both, a version must be beyond both to
 * go (the safer reading). At least one is required: prune deletes nothing it was not told to.
 */
public record Policy(Integer keep, Duration olderThan) {
    public Policy {
        if (keep == null && olderThan == null) {
            throw new IllegalArgumentException("say what to prune: --keep N (newest N versions of each image stay)"
                    + " and/or --older-than DURATION (like 30d, 12h)");
        }
        if (keep != null && keep < 0) {
            throw new IllegalArgumentException("--keep must be 0 or more, got " + keep);
        }
    }

    /** 30d, 12h, 90m, 2w or an ISO-8601 duration (P30D). */
    public static Duration parseDuration(String text) {
        String t = text.trim();
        try {
            if (t.toUpperCase().startsWith("P")) {
                return Duration.parse(t.toUpperCase());
            }
            long n = Long.parseLong(t.substring(0, t.length() - 1));
            switch (t.charAt(t.length() - 1)) {
                case 'w':
                    return Duration.ofDays(7 * n);
                case 'd':
                    return Duration.ofDays(n);
                case 'h':
                    return Duration.ofHours(n);
                case 'm':
                    return Duration.ofMinutes(n);
                case 's':
                    return Duration.ofSeconds(n);
                default:
                    break;
            }
        } catch (RuntimeException e) {
            // fall through to the message below
        }
        throw new IllegalArgumentException("expected a duration like 30d, 12h, 90m, 2w or P30D, got '" + text + "'");
    }
}
