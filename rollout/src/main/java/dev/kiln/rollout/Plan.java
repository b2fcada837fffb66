package dev.kiln.rollout;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * What a rollout will do, decided before anything is touched (kiln rollout plan): the nodes in the
 * order they will be replaced, in batches (masters one at a time, then workers within the budget),
 * what each step waits for, an estimate, and every blocker found now. It carries a hash of the fleet
 * state it saw; applying it when that state has changed is refused, so what runs is what was read.
 *
 * @param target NAME:VERSION every node goes to (a concrete version even when asked for NAME@ENV)
 * @param asked what the operator asked for (--to as written, or the inventory's image)
 * @param maxUnavailable nodes of the cluster that may be down at once, counting nodes already down
 * @param onFailure "rollback" (the failed node goes back to its previous version) or "halt"
 * @param rollbackOf for a rollback, the rollout it undoes, else null
 * @param stateHash hash of the fleet state the plan was made from
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Plan(
        int schema,
        String cluster,
        String target,
        String asked,
        int maxUnavailable,
        String budget,
        String onFailure,
        long drainTimeoutSeconds,
        long nodeTimeoutSeconds,
        boolean forceDrain,
        boolean allowUnvalidated,
        String rollbackOf,
        List<Batch> batches,
        List<String> blockers,
        List<String> notes,
        long estimateSeconds,
        String stateHash,
        String createdAt) {
    public static final int SCHEMA = 1;

    public Plan {
        batches = batches == null ? List.of() : List.copyOf(batches);
        blockers = blockers == null ? List.of() : List.copyOf(blockers);
        notes = notes == null ? List.of() : List.copyOf(notes);
    }

    /**
     * One batch: its nodes are replaced together and the next batch starts only when all of them
     * are confirmed.
     */
    public record Batch(int index, List<Node> nodes) {}

    /**
     * @param artifact the target on this kind of machine when it is not the image (EC2: an AMI id)
     * @param waitsFor what each step waits for, in order
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Node(
            String name,
            String mac,
            String role,
            String address,
            String from,
            String to,
            String artifact,
            List<String> waitsFor) {}

    public boolean blocked() {
        return !blockers.isEmpty();
    }

    /** Every node in execution order. */
    public List<Node> nodes() {
        return batches.stream().flatMap(b -> b.nodes().stream()).toList();
    }
}
