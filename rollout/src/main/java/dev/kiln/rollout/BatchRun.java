package dev.kiln.rollout;

import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.NodeStatus;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nodes of one batch of a rollout, within its budget: which start now (nodes it already took
 * down first, then as many as the nodes down in the cluster leave room for, see {@link
 * Admission}), waiting while the cluster has no room, and the batch's outcome once its nodes end.
 */
final class BatchRun {
    private static final Logger LOG = LoggerFactory.getLogger(BatchRun.class);

    private final RolloutRun run;
    private final NodeSteps steps;
    private final RolloutController controller;
    private final FleetState server;
    private final EngineEnv env;
    private final Journal journal;
    private final Plan plan;

    BatchRun(RolloutRun run, NodeSteps steps, RolloutController controller, Plan plan) {
        this.run = run;
        this.steps = steps;
        this.controller = controller;
        this.server = controller.server();
        this.env = controller.env();
        this.journal = run.journal();
        this.plan = plan;
    }

    /** Runs one batch within the budget; false when the rollout must not go on (paused, halted...). */
    boolean run(List<Plan.Node> batch) throws InterruptedException, IOException {
        List<Plan.Node> pending = new ArrayList<>();
        for (Plan.Node n : batch) {
            if (JournalView.NodeState.TO_DO.contains(
                    journal.view().node(n.name()).state())) {
                pending.add(n);
            }
        }
        if (pending.isEmpty()) {
            return !run.stopping();
        }
        ExecutorService pool = env.workers("kiln-rollout-" + run.id() + "-node", Math.min(pending.size(), 128));
        Map<Plan.Node, Future<Boolean>> running = new LinkedHashMap<>();
        Instant waitingSince = null;
        try {
            while (!pending.isEmpty() || !running.isEmpty()) {
                // Paused or aborted, only nodes begun before (found mid-step after a restart) are
                // seen through; none starts.
                List<Plan.Node> admissible =
                        run.stopping() ? pending.stream().filter(this::begun).toList() : List.copyOf(pending);
                if (!admissible.isEmpty()) {
                    // Nodes this rollout already took down (resumed after a restart, or retried
                    // after a failure) go first: they are down whatever happens, so they count as
                    // being replaced, not as down outside the rollout.
                    Set<Plan.Node> ours = new LinkedHashSet<>(running.keySet());
                    admissible.stream().filter(this::alreadyDown).forEach(ours::add);
                    int down = unavailableOutside(ours);
                    // A node being brought up (never booted) was not serving: it uses no budget.
                    long replacing = running.keySet().stream()
                            .filter(RolloutRun::wasServing)
                            .count();
                    List<Admission.Candidate> waiting = admissible.stream()
                            .map(n -> new Admission.Candidate(n, RolloutRun.wasServing(n), alreadyDown(n)))
                            .toList();
                    for (Plan.Node n : Admission.admit(waiting, replacing, down, plan.maxUnavailable())) {
                        pending.remove(n);
                        running.put(n, pool.submit(() -> steps.replace(n)));
                    }
                    if (running.isEmpty() && !pending.isEmpty()) {
                        if (waitingSince == null) {
                            waitingSince = env.now();
                            String why = "waiting: " + down + " node(s) of the cluster are not ready, which"
                                    + " uses the budget of " + plan.maxUnavailable();
                            run.doing(why);
                            LOG.info("rollout {}: {}", run.id(), why);
                        } else if (Duration.between(waitingSince, env.now()).getSeconds() > plan.nodeTimeoutSeconds()) {
                            run.halt("no budget for " + plan.nodeTimeoutSeconds() + " s: " + down
                                    + " node(s) not ready outside this rollout");
                            return false;
                        }
                    } else {
                        waitingSince = null;
                    }
                } else if (run.stopping() && running.isEmpty()) {
                    return false;
                }
                env.sleep(controller.poll());
                for (var it = running.entrySet().iterator(); it.hasNext(); ) {
                    var e = it.next();
                    if (e.getValue().isDone()) {
                        it.remove();
                        boolean ok;
                        try {
                            ok = e.getValue().get();
                        } catch (java.util.concurrent.ExecutionException ex) {
                            LOG.error(
                                    "rollout {}: node {} failed",
                                    run.id(),
                                    e.getKey().name(),
                                    ex.getCause());
                            ok = false;
                        }
                        if (!ok
                                && !run.haltRequested()
                                && run.progress(e.getKey().name()).state() == JournalView.NodeState.FAILED) {
                            run.requestHalt();
                        }
                    }
                }
                if (run.haltRequested() && running.isEmpty()) {
                    JournalView.Node p = null;
                    String failed = null;
                    for (Plan.Node n : batch) {
                        JournalView.Node q = run.progress(n.name());
                        if (q.state() == JournalView.NodeState.FAILED
                                || q.state() == JournalView.NodeState.ROLLED_BACK) {
                            failed = n.name();
                            p = q;
                        }
                    }
                    run.halt(failed == null ? "a node failed" : failed + " failed: " + run.failureOf(failed, p));
                    return false;
                }
            }
            return !run.stopping();
        } finally {
            pool.shutdownNow();
        }
    }

    /** A node this rollout took down and has not brought back: its budget is already spent. */
    boolean alreadyDown(Plan.Node n) {
        JournalView.Node v = journal.view().node(n.name());
        boolean ours = v.state() == JournalView.NodeState.RETRY_DOWN
                || (v.state() == JournalView.NodeState.IN_PROGRESS && Step.wentDownAt(v.step()));
        // One that reported ready since its last power cycle (back on the wrong image, or a power
        // step whose BMC refused) is up: taking it down again spends the budget like any other.
        return ours && run.leftDown(n.name(), server.status(n.mac()));
    }

    /**
     * Cluster nodes that are down and not being replaced by this batch right now: they use the
     * budget. A node never booted (being brought up) is not "down" in that sense.
     */
    private int unavailableOutside(Set<Plan.Node> running) {
        Set<String> busy = new LinkedHashSet<>();
        running.forEach(n -> busy.add(n.mac()));
        int down = 0;
        for (Inventory.Member m : server.inventory().members()) {
            if (!m.cluster().name().equals(plan.cluster()) || busy.contains(m.mac()) || !server.hasBooted(m.mac())) {
                continue;
            }
            NodeStatus s = server.status(m.mac());
            if (s == null || !"ready".equals(s.step()) || controller.leftDown(plan.cluster(), m.name(), s)) {
                down++;
            }
        }
        return down;
    }

    /** A node begun and not finished: mid-step, the pause or abort waits for it. */
    private boolean begun(Plan.Node n) {
        return journal.view().node(n.name()).state() == JournalView.NodeState.IN_PROGRESS;
    }
}
