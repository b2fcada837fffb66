package dev.kiln.release;

import dev.kiln.core.yaml.YamlProblem;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The environments file is unusable; carries every problem, each at file:line:column with its field
 * path.
 */
public final class EnvironmentsException extends Exception {
    private final List<YamlProblem> problems;

    public EnvironmentsException(List<YamlProblem> problems) {
        super(problems.stream().map(YamlProblem::toString).collect(Collectors.joining("\n")));
        this.problems = List.copyOf(problems);
    }

    public List<YamlProblem> problems() {
        return problems;
    }
}
