package dev.kiln.rollout;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * A rollout as kiln rollout status shows it: its state, every node's progress and the timeline.
 *
 * @param state running, paused, halted, done, aborted, rolled-back
 * @param events the journal: every intent and outcome in order (over HTTP, the newest {@link
 *     #EVENTS_SHOWN} unless asked for all: see {@link #newestEvents})
 * @param eventsTotal how many events the journal has
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
        List<Journal.Event> events,
        int eventsTotal) {
    /**
     * Events GET /rollouts/ID returns unless asked for all (?events=all): a 1,000-node rollout
     * journals some 15,000, and a status poll should not carry them all every two seconds.
     */
    public static final int EVENTS_SHOWN = 200;

    /** The same state with only the newest {@code n} events (eventsTotal still counts all). */
    public RolloutState newestEvents(int n) {
        if (events.size() <= n) {
            return this;
        }
        return new RolloutState(
                id,
                cluster,
                target,
                state,
                reason,
                currentStep,
                startedAt,
                endedAt,
                estimateSeconds,
                elapsedSeconds,
                maxUnavailable,
                rollbackOf,
                nodes,
                List.copyOf(events.subList(events.size() - n, events.size())),
                eventsTotal);
    }

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
