package dev.kiln.builder.update;

import dev.kiln.builder.spec.ImageSpec;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The version {@code kiln bump} gives a spec, in the spec's own scheme:
 *
 * <ul>
 *   <li>{@code X.Y.Z-YYYYMMDD.N}: the next patch, today, build 1 (1.0.0-20261127.1 →
 *       1.0.1-20261129.1); but when X.Y.Z is the version of one of the spec's components
 *       (k8s-node's 1.34.2 is its kubelet), that stays and only the date moves: today's build N+1
 *       if the date is today, else today's build 1 (1.34.2-20261127.1 → 1.34.2-20261129.1);
 *   <li>{@code X.Y.Z}: the next patch;
 *   <li>{@code YYYYMMDD.N}: today's build N+1 when the date is today, else today's build 1.
 * </ul>
 *
 * Anything else needs {@code --version}.
 */
public final class NextVersion {
    private static final Pattern SEMVER_DATED = Pattern.compile("(\\d+)\\.(\\d+)\\.(\\d+)-(\\d{8})\\.(\\d+)");
    private static final Pattern SEMVER = Pattern.compile("(\\d+)\\.(\\d+)\\.(\\d+)");
    private static final Pattern DATED = Pattern.compile("(\\d{8})\\.(\\d+)");
    private static final DateTimeFormatter DAY = DateTimeFormatter.BASIC_ISO_DATE;

    private NextVersion() {}

    public static String after(ImageSpec spec, LocalDate today) {
        String v = spec.version();
        String day = today.format(DAY);
        Matcher m = SEMVER_DATED.matcher(v);
        if (m.matches()) {
            String semver = m.group(1) + "." + m.group(2) + "." + m.group(3);
            boolean tracksComponent = spec.components().values().stream().anyMatch(c -> semver.equals(c.version()));
            if (tracksComponent) {
                return semver + "-" + day + "." + nextBuild(m.group(4), m.group(5), day);
            }
            return m.group(1) + "." + m.group(2) + "." + (Long.parseLong(m.group(3)) + 1) + "-" + day + ".1";
        }
        m = SEMVER.matcher(v);
        if (m.matches()) {
            return m.group(1) + "." + m.group(2) + "." + (Long.parseLong(m.group(3)) + 1);
        }
        m = DATED.matcher(v);
        if (m.matches()) {
            return day + "." + nextBuild(m.group(1), m.group(2), day);
        }
        throw new IllegalArgumentException("cannot tell the next version after '"
                + v
                + "' (kiln knows X.Y.Z-YYYYMMDD.N,"
                + " X.Y.Z and YYYYMMDD.N); pass --version");
    }

    private static long nextBuild(String date, String build, String today) {
        return date.equals(today) ? Long.parseLong(build) + 1 : 1;
    }
}
