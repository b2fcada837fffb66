package dev.kiln.release;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The environments file, checked ({@link EnvironmentsLoader}): the environments an image moves
 * through and the gates a version must pass to enter each.
 *
 * <pre>
 * environments:
 *   - name: dev
 *     gates:
 *       - validated: {provider: qemu-pxe, masters: 1, workers: 2}
 *   - name: prod
 *     from: dev
 *     gates:
 *       - soak: 24h
 *       - approvals: 2
 *       - window: "Mon-Thu 09:00-16:00 Europe/Amsterdam"
 * </pre>
 */
public record Environments(Path file, List<Environment> environments) {
    /**
     * The gates --override accepts; "revoked" is not one of them: a revoked version never moves.
     */
    public static final List<String> GATES = List.of("validated", "from", "soak", "approvals", "window");

    /** One environment: its name, the environment versions come from (may be null), its gates. */
    public record Environment(String name, String from, List<Gate> gates) {
        /**
         * The names of the gates a promotion into it evaluates, in order ("from" first when set).
         */
        public List<String> gateNames() {
            List<String> names = new java.util.ArrayList<>();
            if (from != null) {
                names.add("from");
            }
            gates.forEach(g -> names.add(g.name()));
            names.add("revoked");
            return names;
        }
    }

    /** A gate as configured. */
    public interface Gate {
        String name();

        /** How it reads in messages: "validated on qemu-pxe with at least 1 master + 2 workers". */
        String describe();
    }

    /**
     * A validated run of this exact manifest, on {@code provider} (any when null), at least this
     * shape.
     */
    public record Validated(String provider, int masters, int workers) implements Gate {
        public String name() {
            return "validated";
        }

        public String describe() {
            return "validated"
                    + (provider == null ? "" : " on " + provider)
                    + " with at least "
                    + masters
                    + " master(s) + "
                    + workers
                    + " worker(s)";
        }
    }

    /** At least this long in the environment it comes from. */
    public record Soak(Duration duration) implements Gate {
        public String name() {
            return "soak";
        }

        public String describe() {
            return "soak " + Durations.format(duration);
        }
    }

    /** This many approvals of the version for this environment, from distinct identities. */
    public record Approvals(int count) implements Gate {
        public String name() {
            return "approvals";
        }

        public String describe() {
            return count + " approval(s)";
        }
    }

    /** Only inside this time window. */
    public record TimeWindow(Window window) implements Gate {
        public String name() {
            return "window";
        }

        public String describe() {
            return "window " + window;
        }
    }

    /** The environment of this name, or null. */
    public Environment environment(String name) {
        return environments.stream()
                .filter(e -> e.name().equals(name))
                .findFirst()
                .orElse(null);
    }

    /** The environment, or an error naming the file and the environments it has. */
    public Environment require(String name) {
        Environment e = environment(name);
        if (e == null) {
            throw new IllegalArgumentException("no environment '"
                    + name
                    + "' in "
                    + file
                    + " (it has: "
                    + String.join(
                            ", ", environments.stream().map(Environment::name).toList())
                    + ")");
        }
        return e;
    }

    /** "24h", "90m", "3d", "1h30m", "45s". */
    static final class Durations {
        private static final java.util.regex.Pattern PART = java.util.regex.Pattern.compile("(\\d+)([dhms])");
        private static final Map<String, Duration> UNITS = Map.of(
                "d",
                Duration.ofDays(1),
                "h",
                Duration.ofHours(1),
                "m",
                Duration.ofMinutes(1),
                "s",
                Duration.ofSeconds(1));

        private Durations() {}

        static Duration parse(String text) {
            String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
            java.util.regex.Matcher m = PART.matcher(t);
            Duration d = Duration.ZERO;
            int end = 0;
            while (m.find() && m.start() == end) {
                d = d.plus(UNITS.get(m.group(2)).multipliedBy(Long.parseLong(m.group(1))));
                end = m.end();
            }
            if (t.isEmpty() || end != t.length()) {
                throw new IllegalArgumentException(
                        "expected a duration like 24h, 90m, 3d or 1h30m, got '" + text + "'");
            }
            return d;
        }

        static String format(Duration d) {
            long s = Math.max(0, d.toSeconds());
            StringBuilder sb = new StringBuilder();
            long days = s / 86400;
            long hours = s % 86400 / 3600;
            long minutes = s % 3600 / 60;
            if (days > 0) {
                sb.append(days).append('d');
            }
            if (hours > 0) {
                sb.append(hours).append('h');
            }
            if (minutes > 0 || sb.length() == 0) {
                sb.append(minutes).append('m');
            }
            return sb.toString();
        }
    }
}
