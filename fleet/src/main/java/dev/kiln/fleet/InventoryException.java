package dev.kiln.fleet;

import dev.kiln.core.yaml.YamlProblem;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The inventory is unusable; carries every problem found, each with file:line and field path
 * ("clusters[0].nodes[1].mac"), in the same form as spec problems.
 */
public final class InventoryException extends Exception {
    private final List<YamlProblem> problems;

    public InventoryException(List<YamlProblem> problems) {
        super(problems.stream().map(YamlProblem::toString).collect(Collectors.joining("\n")));
        this.problems = List.copyOf(problems);
    }

    public List<YamlProblem> problems() {
        return problems;
    }
}
