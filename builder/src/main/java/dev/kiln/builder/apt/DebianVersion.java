package dev.kiln.builder.apt;

import java.math.BigInteger;

/**
 * A Debian package version ([epoch:]upstream[-revision]) ordered exactly as dpkg orders them
 * (dpkg's lib/dpkg/version.c, verrevcmp): epochs numerically; then upstream and revision each
 * compared as alternating non-digit and digit runs, where '~' sorts before everything (even the end
 * of the string), letters before other characters, and digit runs compare as numbers. So 1.0~rc1 <
 * 1.0 < 1.0+deb12u1 < 1.0+deb12u1+b1, and 1:0.1 > 9.9.
 */
public final class DebianVersion implements Comparable<DebianVersion> {
    private final String text;
    private final BigInteger epoch;
    private final String upstream;
    private final String revision;

    private DebianVersion(String text, BigInteger epoch, String upstream, String revision) {
        this.text = text;
        this.epoch = epoch;
        this.upstream = upstream;
        this.revision = revision;
    }

    /**
     * Parses a version; a malformed one (empty, a non-numeric epoch, an empty upstream part) is
     * refused.
     */
    public static DebianVersion parse(String text) {
        if (text == null
                || text.isBlank()
                || !text.equals(text.trim())
                || text.chars().anyMatch(Character::isWhitespace)) {
            throw new IllegalArgumentException(
                    "not a Debian version: '" + text + "' (expected [epoch:]upstream[-revision])");
        }
        BigInteger epoch = BigInteger.ZERO;
        String rest = text;
        int colon = text.indexOf(':');
        if (colon >= 0) {
            String e = text.substring(0, colon);
            if (e.isEmpty() || !e.chars().allMatch(c -> c >= '0' && c <= '9')) {
                throw new IllegalArgumentException(
                        "not a Debian version: '" + text + "' (the epoch before ':' must be a number)");
            }
            epoch = new BigInteger(e);
            rest = text.substring(colon + 1);
        }
        // The revision is everything after the last hyphen; the upstream version may contain
        // hyphens.
        int hyphen = rest.lastIndexOf('-');
        String upstream = hyphen < 0 ? rest : rest.substring(0, hyphen);
        String revision = hyphen < 0 ? "" : rest.substring(hyphen + 1);
        if (upstream.isEmpty() || (hyphen >= 0 && revision.isEmpty())) {
            throw new IllegalArgumentException(
                    "not a Debian version: '" + text + "' (empty upstream version or revision)");
        }
        return new DebianVersion(text, epoch, upstream, revision);
    }

    /** dpkg --compare-versions A lt B, as a Comparator result. */
    public static int compare(String a, String b) {
        return parse(a).compareTo(parse(b));
    }

    @Override
    public int compareTo(DebianVersion o) {
        int c = epoch.compareTo(o.epoch);
        if (c != 0) {
            return c;
        }
        c = verrevcmp(upstream, o.upstream);
        return c != 0 ? c : verrevcmp(revision, o.revision);
    }

    public boolean isNewerThan(DebianVersion o) {
        return compareTo(o) > 0;
    }

    /**
     * Weight of one character in a non-digit run: '~' lowest, then end of string, letters,
     * everything else.
     */
    private static int order(char c) {
        if (isDigit(c)) {
            return 0;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            return c;
        }
        if (c == '~') {
            return -1;
        }
        return c == 0 ? 0 : c + 256;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static char at(String s, int i) {
        return i < s.length() ? s.charAt(i) : 0;
    }

    private static int verrevcmp(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() || j < b.length()) {
            int firstDiff = 0;
            while ((i < a.length() && !isDigit(a.charAt(i))) || (j < b.length() && !isDigit(b.charAt(j)))) {
                int ac = order(at(a, i));
                int bc = order(at(b, j));
                if (ac != bc) {
                    return ac - bc;
                }
                i++;
                j++;
            }
            while (at(a, i) == '0') {
                i++;
            }
            while (at(b, j) == '0') {
                j++;
            }
            while (isDigit(at(a, i)) && isDigit(at(b, j))) {
                if (firstDiff == 0) {
                    firstDiff = a.charAt(i) - b.charAt(j);
                }
                i++;
                j++;
            }
            if (isDigit(at(a, i))) {
                return 1;
            }
            if (isDigit(at(b, j))) {
                return -1;
            }
            if (firstDiff != 0) {
                return firstDiff;
            }
        }
        return 0;
    }

    /**
     * The upstream part without epoch and Debian revision, e.g. 1.6.20~ds1 for
     * 1.6.20~ds1-1+deb12u3.
     */
    public String upstream() {
        return upstream;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DebianVersion v && compareTo(v) == 0;
    }

    @Override
    public int hashCode() {
        // Equal versions may be spelt differently (1.0 vs 0:1.0 vs 1.00), so only the epoch is
        // hashed.
        return epoch.hashCode();
    }

    @Override
    public String toString() {
        return text;
    }
}
