package dev.kiln.core.yaml;

import java.nio.file.Path;

/** One thing wrong with a spec: where (file:line:column), which field, and what was expected. */
public record YamlProblem(Path file, int line, int column, String field, String message) {
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(file == null ? "<spec>" : file.toString());
        if (line > 0) {
            sb.append(':').append(line);
            if (column > 0) {
                sb.append(':').append(column);
            }
        }
        sb.append(": ");
        if (field != null && !field.isEmpty()) {
            sb.append(field).append(": ");
        }
        return sb.append(message).toString();
    }
}
