package dev.kiln.builder.spec;

import dev.kiln.core.yaml.YamlProblem;
import java.util.List;
import java.util.stream.Collectors;

/** A spec is unusable; carries every problem found so the user can fix them in one go. */
public final class SpecException extends Exception {
    private final List<YamlProblem> problems;

    public SpecException(List<YamlProblem> problems) {
        super(problems.stream().map(YamlProblem::toString).collect(Collectors.joining("\n")));
        this.problems = List.copyOf(problems);
    }

    public SpecException(YamlProblem problem) {
        this(List.of(problem));
    }

    public List<YamlProblem> problems() {
        return problems;
    }
}
