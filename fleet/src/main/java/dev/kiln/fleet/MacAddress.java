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

    /**
     * The MAC kiln serve knows an EC2 node by (such a node has no MAC in the inventory, and its
     * instance's real one changes with every launch): {@code 02:} and the first five bytes of
     * SHA-256 of "CLUSTER/NODE". The 02 marks it locally administered and unicast, so it can be no
     * vendor's hardware address; it is stable, so the node's token stays the same across instances.
     */
    public static String derived(String cluster, String node) {
        byte[] h;
        try {
            h = java.security.MessageDigest.getInstance("SHA-256")
                    .digest((cluster + "/" + node).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        StringBuilder out = new StringBuilder("02");
        for (int i = 0; i < 5; i++) {
            out.append(':').append(String.format("%02x", h[i] & 0xff));
        }
        return out.toString();
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
