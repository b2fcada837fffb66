package dev.kiln.validator;

import dev.kiln.core.node.AgentStep;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.validator.provider.NodeProvider.NodeBoot;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Why: following the nodes of one validation run (which steps each reached when, what its root did,
 * whether they are all done or one failed) is its own job, apart from setting the run up and
 * reporting it.
 */
final class NodeProgress {
    /**
     * After the first node fails, how long the others get to report (the init-master's own
     * failure).
     */
    private static final Duration FAIL_GRACE = Duration.ofSeconds(5);

    private final Consumer<String> say;
    private final Map<String, Map<String, Double>> reached = new ConcurrentHashMap<>();

    /** Per node, what its disk's root did at boot (the agent's "booted" report says it). */
    private final Map<String, String> roots = new ConcurrentHashMap<>();

    private volatile long nodesStartedAt;

    /**
     * @param say where each node's first report of a step goes, with its time since the nodes
     *     started
     */
    NodeProgress(Consumer<String> say) {
        this.say = say;
    }

    /** A node to follow; reports for nodes not tracked here are ignored. */
    void track(String node) {
        reached.put(node, new ConcurrentHashMap<>());
    }

    /** The nodes are being started now: step times count from here, reports before are ignored. */
    void nodesStarting() {
        nodesStartedAt = System.nanoTime();
    }

    void onReport(NodeBoot node, NodeStatus s) {
        if (node == null || nodesStartedAt == 0) {
            return;
        }
        double at = (System.nanoTime() - nodesStartedAt) / 1e9;
        String step = s.checks() != null ? "checked" : s.step();
        if (NodeStatus.IPXE.equals(step)) {
            return;
        }
        String root = "booted".equals(step) ? RootReport.of(s.detail()) : null;
        if (root != null) {
            roots.putIfAbsent(node.name(), root);
        }
        if (reached.get(node.name()).putIfAbsent(step, round(at)) == null) {
            String detail = AgentStep.FAILED.is(step)
                    ? " (" + s.phase() + "): " + s.detail()
                    : "checked".equals(step)
                            ? " " + ReportWriter.tally(s.checks())
                            : root != null ? " root " + root : storageOf(s.detail());
            say.accept(String.format(Locale.ROOT, "%-4s %-17s +%.1fs%s", node.name(), step, at, detail));
        }
    }

    /**
     * Waits until every node sent check results, or one failed (plus a short grace for the rest to
     * say why), or the deadline passed. True if the deadline passed.
     */
    boolean awaitVerdict(KilnServer server, List<NodeBoot> nodes, Duration timeout) throws InterruptedException {
        long deadline = nodesStartedAt + timeout.toNanos();
        long failedAt = 0;
        while (true) {
            boolean allDone = true;
            for (NodeBoot n : nodes) {
                NodeStatus s = server.status(n.mac());
                if (s != null && AgentStep.FAILED.is(s.step())) {
                    failedAt = failedAt == 0 ? System.nanoTime() : failedAt;
                } else if (s == null || s.checks() == null) {
                    allDone = false;
                }
            }
            long now = System.nanoTime();
            if (allDone || (failedAt != 0 && now - failedAt > FAIL_GRACE.toNanos())) {
                return false;
            }
            if (now > deadline) {
                return true;
            }
            Thread.sleep(250);
        }
    }

    /**
     * What the node did with its local disks, as its agent said with "placeholders-rendered" (e.g.
     * " storage data: formatted /dev/vda (8.0G, ...) ..."), or "".
     */
    static String storageOf(String detail) {
        int at = detail == null ? -1 : detail.indexOf("; storage ");
        return at < 0 ? "" : " " + detail.substring(at + 2);
    }

    /** The steps the node reached, with seconds since the nodes started. */
    Map<String, Double> reached(String node) {
        return new LinkedHashMap<>(reached.get(node));
    }

    /** What the node's root did at boot, or null if it did not say. */
    String root(String node) {
        return roots.get(node);
    }

    static double round(double seconds) {
        return Math.round(seconds * 10) / 10.0;
    }
}
