package dev.kiln.cli;

import dev.kiln.core.json.Json;
import java.io.IOException;
import java.util.Locale;

/** How commands print: sizes, aligned tables for people, JSON for scripts (--json). */
final class Format {
    private Format() {}

    static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** Rows as left-aligned columns, two spaces apart; the first row is the header. */
    static java.util.List<String> table(java.util.List<String[]> rows) {
        int[] width = new int[rows.get(0).length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        java.util.List<String> lines = new java.util.ArrayList<>();
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                line.append(i == row.length - 1 ? row[i] : String.format("%-" + (width[i] + 2) + "s", row[i]));
            }
            lines.add(line.toString().stripTrailing());
        }
        return lines;
    }

    /** The value as indented JSON on stdout: what --json prints, so scripts never parse columns. */
    static void json(Object value) throws IOException {
        System.out.println(Json.MAPPER.writeValueAsString(value));
    }
}
