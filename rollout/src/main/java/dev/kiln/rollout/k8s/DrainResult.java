package dev.kiln.rollout.k8s;

import java.util.ArrayList;
import java.util.List;

/**
 * How a drain ended. {@code drained}: every pod that had to leave was evicted and is gone. Otherwise
 * {@code blocked} names the pods whose eviction was still refused at the timeout (and the
 * PodDisruptionBudgets that select them), and {@code terminating} the evicted pods that had not
 * finished terminating.
 *
 * @param evicted pods ("namespace/name") whose eviction the API server accepted
 */
public record DrainResult(
        String node, boolean drained, List<String> evicted, List<BlockedPod> blocked, List<String> terminating) {
    public DrainResult {
        evicted = List.copyOf(evicted);
        blocked = List.copyOf(blocked);
        terminating = List.copyOf(terminating);
    }

    /**
     * A pod the API server would not evict.
     *
     * @param pod "namespace/name"
     * @param pdbs "namespace/name" of the PodDisruptionBudgets selecting it (empty when none is known)
     * @param reason the API server's answer, e.g. "HTTP 429 (disruption budget)"
     */
    public record BlockedPod(String pod, List<String> pdbs, String reason) {
        public BlockedPod {
            pdbs = List.copyOf(pdbs);
        }

        @Override
        public String toString() {
            return pod + (pdbs.isEmpty() ? "" : " blocked by PodDisruptionBudget " + String.join(", ", pdbs)) + " ("
                    + reason + ")";
        }
    }

    /** One line for the journal and the blocker list. */
    public String summary() {
        if (drained) {
            return "node " + node + " drained: " + evicted.size() + " pod" + (evicted.size() == 1 ? "" : "s")
                    + " evicted";
        }
        List<String> parts = new ArrayList<>();
        blocked.forEach(b -> parts.add(b.toString()));
        if (!terminating.isEmpty()) {
            parts.add("still terminating: " + String.join(", ", terminating));
        }
        return "node " + node + " not drained: " + String.join("; ", parts);
    }
}
