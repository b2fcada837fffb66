package dev.kiln.fleet;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** The inventory is unusable; carries every problem found, each with file:line and field path. */
public final class InventoryException extends Exception {
    private final List<Problem> problems;

    public InventoryException(List<Problem> problems) {
        super(problems.stream().map(Problem::toString).collect(Collectors.joining("\n")));
        this.problems = List.copyOf(problems);
    }

    public List<Problem> problems() {
        return problems;
    }

    /** One mistake: where (file:line:column), which field ("clusters[0].nodes[1].mac"), what is wrong. */
    public record Problem(Path file, int line, int column, String field, String message) {
        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(String.valueOf(file));
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
}
