package dev.kiln.fleet;

import java.util.Locale;

/**
 * MAC addresses in one canonical form, "52:54:00:12:34:01", so the inventory, iPXE's {@code
 * ${net0/mac}}, tokens and status all agree however the address was typed.
 */
public final class MacAddress {
    private MacAddress() {}

    /**
     * Accepts 52:54:00:12:34:01, 52-54-00-12-34-01, 5254.0012.3401 and 525400123401 in any case.
     *
     * @return the canonical lower-case colon form, or null if the text is not a MAC address
     */
    public static String normalize(String text) {
        if (text == null) {
            return null;
        }
        String t = text.trim();
        StringBuilder hex = new StringBuilder(12);
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (Character.digit(c, 16) >= 0 && c < 128) {
                hex.append(Character.toLowerCase(c));
            } else if (c != ':' && c != '-' && c != '.') {
                return null;
            }
        }
        if (hex.length() != 12 || !separatorsConsistent(t)) {
            return null;
        }
        StringBuilder out = new StringBuilder(17);
        for (int i = 0; i < 12; i += 2) {
            if (i > 0) {
                out.append(':');
            }
            out.append(hex, i, i + 2);
        }
        return out.toString().toLowerCase(Locale.ROOT);
    }

    /** Rejects mixtures like "52:54-00" or a separator in odd places, which are typos, not MACs. */
    private static boolean separatorsConsistent(String t) {
        if (t.length() == 12) {
            return true;
        }
        if (t.length() == 17) {
            char sep = t.charAt(2);
            if (sep != ':' && sep != '-') {
                return false;
            }
            for (int i = 2; i < 17; i += 3) {
                if (t.charAt(i) != sep) {
                    return false;
                }
            }
            return true;
        }
        return t.length() == 14 && t.charAt(4) == '.' && t.charAt(9) == '.';
    }
}
