package dev.kiln.core.util;

import java.util.regex.Pattern;

/**
 * What a machine printed on a serial console or a container's terminal, made fit for a report or an
 * error message: colour and cursor sequences, charset switches, carriage returns and other control
 * characters removed, line breaks and tabs kept.
 */
public final class ConsoleText {
    private static final Pattern CONTROLS =
            Pattern.compile("\u001B\\[[0-9;?]*[A-Za-z]|\u001B[()][A-Z0-9]|[\\p{Cntrl}&&[^\n\t]]");

    private ConsoleText() {}

    public static String plain(String text) {
        return CONTROLS.matcher(text).replaceAll("");
    }

    /** The last {@code lines} lines of {@link #plain} text. */
    public static String tail(String text, int lines) {
        java.util.List<String> all = plain(text).lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    /**
     * Text safe to put into an iPXE script or a one-line message: printable ASCII only, and none of
     * iPXE's expansion or control characters ($ \ | &amp;), each replaced by '?'.
     */
    public static String scriptSafe(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            sb.append(c >= 0x20 && c < 0x7f && c != '$' && c != '\\' && c != '|' && c != '&' ? c : '?');
        }
        return sb.toString();
    }
}
