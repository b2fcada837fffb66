package dev.kiln.builder.apt;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code Date:} field of an apt Release or InRelease file: when the mirror published that
 * state.
 */
public final class ReleaseDate {
    private static final Pattern DATE = Pattern.compile("(?m)^Date:\\s*(.+?)\\s*$");

    /**
     * "Sat, 09 Aug 2025 09:11:35 UTC": RFC 2822 as apt writes it (the zone may be a name or an
     * offset).
     */
    private static final DateTimeFormatter FORMAT =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss z", Locale.ROOT);

    private static final DateTimeFormatter OFFSET =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ROOT);

    private ReleaseDate() {}

    /** The Date of this Release file, or null when it has none (flat repositories may omit it). */
    public static Instant of(byte[] release) {
        Matcher m = DATE.matcher(new String(release, StandardCharsets.UTF_8));
        if (!m.find()) {
            return null;
        }
        return parse(m.group(1));
    }

    static Instant parse(String text) {
        for (DateTimeFormatter f : new DateTimeFormatter[] {FORMAT, OFFSET}) {
            try {
                return ZonedDateTime.parse(text, f).toInstant();
            } catch (DateTimeParseException e) {
                // try the next form
            }
        }
        return null;
    }
}
