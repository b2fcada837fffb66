package dev.kiln.fleet;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * What the fleet page and /metrics show beyond the inventory and node reports: channels (from
 * promotion) and rollouts (from the rollout controller). Those features live in modules above
 * fleet, so they plug in here ({@link KilnServer#feeds}); until one does, its section says "none"
 * and its metrics have no series. Nothing here is ever made up.
 */
public interface FleetFeeds {
    FleetFeeds NONE = new FleetFeeds() {};

    /** Where each environment's channel points, or empty when promotion is not in use. */
    default List<Channel> channels() {
        return List.of();
    }

    /** Rollouts running or recently finished, or empty when there are none. */
    default List<Rollout> rollouts() {
        return List.of();
    }

    /**
     * @param image the image name (debian-node)
     * @param environment dev, staging, prod, ...
     * @param version the version the channel points at
     * @param since when it was promoted there (ISO-8601)
     * @param by who promoted it, if recorded
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Channel(String image, String environment, String version, String since, String by) {}

    /**
     * @param state running, paused, halted, failed, done
     * @param reason why it halted or failed, else null
     * @param currentStep what it is doing now (drain m2, power w1, confirm w1, ...)
     * @param estimateSeconds the plan's estimate for the whole rollout
     * @param elapsedSeconds time taken so far
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Rollout(
            String id,
            String cluster,
            String target,
            String state,
            String reason,
            String currentStep,
            String startedAt,
            Long estimateSeconds,
            Long elapsedSeconds,
            List<Batch> batches) {}

    record Batch(int index, List<RolloutNode> nodes) {}

    /**
     * @param state pending, in-progress, done, failed, skipped
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record RolloutNode(String name, String from, String to, String step, String state) {}
}
