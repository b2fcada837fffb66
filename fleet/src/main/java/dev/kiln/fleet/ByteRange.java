package dev.kiln.fleet;

import java.util.Locale;

/**
 * What to send for a Range header (RFC 9110 section 14): a single byte range, the whole file, or
 * nothing (416). Multiple ranges are answered with the whole file, which the RFC allows and no boot
 * client needs otherwise; a header that does not parse is ignored, as the RFC requires.
 *
 * @param start first byte, inclusive
 * @param end last byte, inclusive
 */
public record ByteRange(Kind kind, long start, long end) {
    public enum Kind {
        WHOLE,
        PARTIAL,
        UNSATISFIABLE
    }

    public long length() {
        return end - start + 1;
    }

    public static ByteRange whole(long size) {
        return new ByteRange(Kind.WHOLE, 0, size - 1);
    }

    /**
     * @param header the Range header, or null
     */
    public static ByteRange of(String header, long size) {
        if (header == null) {
            return whole(size);
        }
        String h = header.trim();
        if (!h.toLowerCase(Locale.ROOT).startsWith("bytes=")) {
            return whole(size);
        }
        String spec = h.substring("bytes=".length()).trim();
        if (spec.contains(",")) {
            return whole(size);
        }
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return whole(size);
        }
        String first = spec.substring(0, dash).trim();
        String last = spec.substring(dash + 1).trim();
        if (first.isEmpty()) {
            // bytes=-N: the last N bytes.
            if (!digits(last)) {
                return whole(size);
            }
            long n = number(last);
            if (n == 0 || size == 0) {
                return unsatisfiable();
            }
            return new ByteRange(Kind.PARTIAL, Math.max(0, size - n), size - 1);
        }
        if (!digits(first) || (!last.isEmpty() && !digits(last))) {
            return whole(size);
        }
        long from = number(first);
        long to = last.isEmpty() ? Long.MAX_VALUE : number(last);
        if (to < from) {
            return whole(size); // invalid, so ignored
        }
        if (from >= size) {
            return unsatisfiable();
        }
        return new ByteRange(Kind.PARTIAL, from, Math.min(to, size - 1));
    }

    private static ByteRange unsatisfiable() {
        return new ByteRange(Kind.UNSATISFIABLE, 0, -1);
    }

    private static boolean digits(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
    }

    /** Values too large for a long mean "beyond any file" and saturate. */
    private static long number(String s) {
        String t = s.replaceFirst("^0+(?=.)", "");
        return t.length() > 18 ? Long.MAX_VALUE : Long.parseLong(t);
    }
}
