package dev.kiln.release;

import dev.kiln.core.store.ImageRef;
import java.util.List;
import java.util.stream.Collectors;

/** A promotion refused because a gate failed; nothing was recorded. Carries every gate's result. */
public final class GatesRefusedException extends Exception {
    private final List<Event.GateResult> results;

    public GatesRefusedException(ImageRef ref, String env, List<Event.GateResult> results) {
        super(ref
                + " cannot enter "
                + env
                + ": "
                + results.stream()
                        .filter(Event.GateResult::blocks)
                        .map(r -> r.gate() + " (" + r.why() + ")")
                        .collect(Collectors.joining("; "))
                + "; nothing was recorded");
        this.results = List.copyOf(results);
    }

    public List<Event.GateResult> results() {
        return results;
    }
}
