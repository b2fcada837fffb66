package dev.kiln.core.node;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The steps a node agent reports to kiln serve ({@code POST /status}), in boot order; FAILED can
 * come at any point. On the wire and in records a step is its {@link #wire()} name.
 */
public enum AgentStep {
    BOOTED("booted", "metadata"),
    METADATA_FETCHED("metadata-fetched", "placeholders"),
    PLACEHOLDERS_RENDERED("placeholders-rendered", "bootstrap"),
    BOOTSTRAP_STARTED("bootstrap-started", "bootstrap"),
    READY("ready", "checks"),
    FAILED("failed", "failed");

    private final String wire;
    private final String nextPhase;

    AgentStep(String wire, String nextPhase) {
        this.wire = wire;
        this.nextPhase = nextPhase;
    }

    public String wire() {
        return wire;
    }

    /** What a node that reported this step and nothing after it is stuck in. */
    public String nextPhase() {
        return nextPhase;
    }

    /** Whether {@code step} (a wire name, may be null) is this step. */
    public boolean is(String step) {
        return wire.equals(step);
    }

    public static Optional<AgentStep> parse(String step) {
        return Arrays.stream(values()).filter(s -> s.is(step)).findFirst();
    }

    /** Every wire name, in boot order. */
    public static List<String> wireNames() {
        return Arrays.stream(values()).map(AgentStep::wire).toList();
    }

    @Override
    public String toString() {
        return wire;
    }
}
