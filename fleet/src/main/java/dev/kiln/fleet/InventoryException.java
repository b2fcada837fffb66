package dev.kiln.fleet;

import dev.kiln.builder.spec.SpecProblem;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The inventory is unusable; carries every problem found, each with file:line and field path
 * ("clusters[0].nodes[1].mac"), in the same form as spec problems.
 */
public final class InventoryException extends Exception {
    private final List<SpecProblem> problems;

    public InventoryException(List<SpecProblem> problems) {
        super(problems.stream().map(SpecProblem::toString).collect(Collectors.joining("\n")));
        this.problems = List.copyOf(problems);
    }

    public List<SpecProblem> problems() {
        return problems;
    }
}
