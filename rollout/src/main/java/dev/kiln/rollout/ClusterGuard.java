package dev.kiln.rollout;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * What a cluster's own APIs say and do while its nodes are replaced: etcd (through its v3 JSON
 * gateway) for masters, Kubernetes for k8s nodes. The controller asks it before each node
 * (preflight), to take the node out (drain) and whether the replacement is back in (rejoined).
 */
interface ClusterGuard {
    /** Problems of the whole cluster now (an unhealthy member, quorum at risk); empty when fine. */
    List<String> blockers(List<Plan.Node> nodes) throws InterruptedException;

    /** Why {@code node} must not go down now, or null. */
    String preflight(Plan.Node node) throws InterruptedException;

    /**
     * Takes the node out of the cluster before it goes down; returns what was done, for the journal.
     *
     * @throws DrainBlocked when the cluster refuses for longer than {@code timeout} (a
     *     PodDisruptionBudget): the node is skipped and retried at the end
     */
    String drain(Plan.Node node, Duration timeout, boolean force)
            throws IOException, InterruptedException, DrainBlocked;

    /** Null when the replaced node is back as a full member, else what is still missing. */
    String rejoined(Plan.Node node) throws InterruptedException;

    /** What draining a node means here, for the plan. */
    default String drainPlan(boolean master) {
        return "nothing to drain (no etcd, no Kubernetes on this image)";
    }

    /** A live master other than {@code node} that a joining master can add itself through, or null. */
    default String joinThrough(Plan.Node node, List<Plan.Node> masters) {
        return masters.stream()
                .filter(m -> !m.name().equals(node.name()))
                .map(Plan.Node::address)
                .findFirst()
                .orElse(null);
    }

    final class DrainBlocked extends Exception {
        DrainBlocked(String message) {
            super(message);
        }
    }

    /** Clusters with nothing to keep safe beyond node readiness (no etcd, no Kubernetes). */
    ClusterGuard NONE = new ClusterGuard() {
        @Override
        public List<String> blockers(List<Plan.Node> nodes) {
            return List.of();
        }

        @Override
        public String preflight(Plan.Node node) {
            return null;
        }

        @Override
        public String drain(Plan.Node node, Duration timeout, boolean force) {
            return "nothing to drain: the image runs neither etcd nor Kubernetes";
        }

        @Override
        public String rejoined(Plan.Node node) {
            return null;
        }
    };
}
