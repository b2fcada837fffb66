package dev.kiln.rollout;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * A rollout as kiln rollout status shows it: its state, every node's progress and the timeline.
 *
 * @param state running, paused, halted, done, aborted, rolled-back
 * @param events the journal: every intent and outcome in order
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RolloutState(
        String id,
        String cluster,
        String target,
        String state,
        String reason,
        String currentStep,
        String startedAt,
        String endedAt,
        long estimateSeconds,
        long elapsedSeconds,
        int maxUnavailable,
        String rollbackOf,
        List<NodeState> nodes,
        List<Journal.Event> events) {

    /**
     * @param state pending, in-progress, done, failed, skipped (drain blocked; retried at the end),
     *     rolled-back
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record NodeState(
            String name, String role, int batch, String from, String to, String state, String step, String detail) {}

    public boolean active() {
        return "running".equals(state) || "paused".equals(state);
    }
}
