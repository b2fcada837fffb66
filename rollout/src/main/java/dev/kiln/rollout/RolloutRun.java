package dev.kiln.rollout;

import dev.kiln.core.store.ImageRef;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.rollout.JournalView.EventType;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rollout being carried out: batch after batch, each node through preflight, drain, repoint,
 * power and confirm, within the budget. Its state is what its journal says; every step's intent is
 * journaled before the step acts, so {@link #restarted()} can tell what may have happened.
 */
final class RolloutRun {
    private static final Logger LOG = LoggerFactory.getLogger(RolloutRun.class);

    private final RolloutController controller;
    private final FleetState server;
    private final EngineEnv env;
    private final Journal journal;
    private final Plan plan;
    private final Map<String, Plan.Node> byName = new LinkedHashMap<>();
    private final Map<String, Integer> batchOf = new HashMap<>();
    private volatile String currentStep;
    private volatile boolean pauseRequested;
    private volatile boolean abortRequested;
    private volatile boolean haltRequested;
    private volatile Thread thread;
    private final NodeSteps steps;
    private final BatchRun batches;
    private volatile boolean running;
    private boolean again; // guarded by this

    RolloutRun(RolloutController controller, Journal journal, Plan plan) {
        this.controller = controller;
        this.server = controller.server();
        this.env = controller.env();
        this.journal = journal;
        this.plan = plan;
        for (Plan.Batch b : plan.batches()) {
            for (Plan.Node n : b.nodes()) {
                byName.put(n.name(), n);
                batchOf.put(n.name(), b.index());
            }
        }
        this.steps = new NodeSteps(this, controller, plan);
        this.batches = new BatchRun(this, steps, controller, plan);
    }

    String id() {
        return journal.id();
    }

    Plan plan() {
        return plan;
    }

    // ---- state from the journal ---------------------------------------------------------------

    /** running, paused, halted, done, aborted or rolled-back: what the journal says. */
    private String overall() {
        return journal.view().phase().wire;
    }

    /** Where a node got to, from the journal: state and the last step begun or ended. */
    JournalView.Node progress(String node) {
        return journal.view().node(node);
    }

    /** Nodes this rollout took down (done, failed, or on their way): what a rollback takes back. */
    List<Plan.Node> replacedNodes() {
        return byName.values().stream()
                .filter(n -> journal.view().node(n.name()).repointed())
                .toList();
    }

    RolloutState state() {
        List<RolloutState.NodeState> nodes = new ArrayList<>();
        for (Plan.Node n : byName.values()) {
            JournalView.Node p = progress(n.name());
            nodes.add(new RolloutState.NodeState(
                    n.name(), n.role(), batchOf.get(n.name()), n.from(), n.to(), p.state().wire, p.step(), p.detail()));
        }
        List<Journal.Event> events = journal.events();
        String started = events.isEmpty() ? plan.createdAt() : events.get(0).at();
        String ended = null;
        if (!journal.view().phase().active() && !events.isEmpty()) {
            ended = events.get(events.size() - 1).at();
        }
        Instant end = ended == null ? env.now() : Instant.parse(ended);
        return new RolloutState(
                id(),
                plan.cluster(),
                plan.target(),
                overall(),
                journal.view().reason(),
                currentStep,
                started,
                ended,
                plan.estimateSeconds(),
                Math.max(0, Duration.between(Instant.parse(started), end).getSeconds()),
                plan.maxUnavailable(),
                plan.rollbackOf(),
                nodes,
                events,
                events.size());
    }

    // ---- operator actions ---------------------------------------------------------------------

    synchronized RolloutState pause() throws IOException, RolloutController.Refused {
        if (journal.view().phase() != JournalView.Phase.RUNNING) {
            throw new RolloutController.Refused(409, "rollout " + id() + " is " + overall() + ", not running");
        }
        pauseRequested = true;
        journal.append(EventType.PAUSED, null, null, "by the operator; nodes in progress finish, no new node starts");
        return state();
    }

    synchronized RolloutState resume() throws IOException, RolloutController.Refused {
        JournalView.Phase phase = journal.view().phase();
        if (phase != JournalView.Phase.PAUSED && phase != JournalView.Phase.HALTED) {
            throw new RolloutController.Refused(
                    409, "rollout " + id() + " is " + overall() + "; only a paused or" + " halted rollout resumes");
        }
        journal.append(EventType.RESUMED, null, null, "by the operator");
        // A node that failed (or was taken back) is tried again in this attempt, from where it
        // stands: one still up starts at preflight, one that went down at the repoint.
        for (Plan.Node n : byName.values()) {
            JournalView.NodeState st = progress(n.name()).state();
            if (st == JournalView.NodeState.FAILED || st == JournalView.NodeState.ROLLED_BACK) {
                journal.append(EventType.NODE_RETRIED, n.name(), null, "after " + st.wire + ", by kiln rollout resume");
            }
        }
        pauseRequested = false;
        haltRequested = false;
        start();
        return state();
    }

    /**
     * @param back nodes in progress go back to their previous version (those not yet re-pointed
     *     just stop) instead of finishing
     */
    synchronized RolloutState abort(boolean back) throws IOException, RolloutController.Refused {
        if (!journal.view().phase().allows(JournalView.Phase.ABORTED)) {
            throw new RolloutController.Refused(409, "rollout " + id() + " is " + overall() + " already");
        }
        abortRequested = true;
        journal.append(
                back ? EventType.ABORTED_BACK : EventType.ABORTED,
                null,
                null,
                "by the operator; nodes not started stay on their versions, nodes in progress "
                        + (back ? "go back to their previous version" : "finish"));
        // The journal stays open: nodes in progress finish and their outcome is journaled, and
        // then the run clears what it directed; a rollout with no run (halted) does it now.
        if (!running) {
            clearOwnDirectives();
        }
        return state();
    }

    /**
     * After a kiln serve restart, an aborted rollout sees through the nodes it had begun and
     * clears the directives it left; it journals nothing else.
     */
    void finishAborted() {
        abortRequested = true;
        start();
    }

    /** Whether its thread still works (an aborted rollout's nodes in progress finishing). */
    boolean busy() {
        return running;
    }

    synchronized void markRolledBack(String by) throws IOException {
        journal.append(EventType.ROLLED_BACK, null, null, "kiln rollout rollback " + id() + ": rollout " + by);
    }

    /** After a kiln serve restart: journal it and go on, unless it was paused. */
    void restarted() throws IOException {
        if (journal.view().phase() == JournalView.Phase.PAUSED) {
            pauseRequested = true;
            start(); // nodes begun before the pause are seen through; none starts
            return;
        }
        journal.append(EventType.RESTARTED, null, null, "kiln serve restarted; re-probing nodes that were in progress");
        start();
    }

    synchronized void start() {
        if (running) {
            // A resume while the thread winds down (a pause's nodes finishing): it runs once more
            // rather than leave a running rollout with no thread.
            again = true;
            return;
        }
        running = true;
        env.start("kiln-rollout-" + id(), () -> {
            thread = Thread.currentThread();
            try {
                while (true) {
                    run();
                    synchronized (this) {
                        if (!again) {
                            return;
                        }
                        again = false;
                    }
                }
            } finally {
                synchronized (this) {
                    thread = null;
                    running = false;
                }
            }
        });
    }

    void stopThread() {
        Thread t = thread;
        if (t != null) {
            t.interrupt();
        }
    }

    // ---- the run ----------------------------------------------------------------------------

    private void run() {
        runBatches();
        if (journal.view().phase() == JournalView.Phase.ABORTED && !controller.closed()) {
            clearOwnDirectives();
        }
    }

    /**
     * Clears the boot directives this rollout left (an aborted rollout's failed nodes): a node's
     * next boot must not reimage it for a rollout that is over. Another rollout's are left alone.
     */
    private void clearOwnDirectives() {
        for (Plan.Node n : byName.values()) {
            if (directs(id(), server.directive(n.mac()))) {
                try {
                    server.clearDirective(n.mac());
                } catch (IOException e) {
                    LOG.error("rollout {}: cannot clear the directive of {}: {}", id(), n.name(), e.toString());
                }
            }
        }
    }

    /** Whether {@code directive} is rollout {@code id}'s (its reimage id, a retry's or the way back's). */
    static boolean directs(String id, Map<String, String> directive) {
        String reimage = directive.get("reimage");
        return reimage != null
                && (reimage.equals(id) || reimage.startsWith(id + "-retry") || reimage.startsWith(id + "-rollback"));
    }

    private void runBatches() {
        try {
            // A node failed and kiln serve died before journaling the halt: halt now, rather than
            // go on past a failure no operator has seen.
            String failed = byName.keySet().stream()
                    .filter(name -> journal.view().node(name).state() == JournalView.NodeState.FAILED)
                    .findFirst()
                    .orElse(null);
            if (failed != null) {
                halt(failed + " failed: " + failureOf(failed, progress(failed)));
                return;
            }
            // Paused or aborted when kiln serve restarted: see the nodes begun before through,
            // whatever their batch, and start none.
            if (stopping()) {
                List<Plan.Node> begun = byName.values().stream()
                        .filter(n -> journal.view().node(n.name()).state() == JournalView.NodeState.IN_PROGRESS)
                        .toList();
                if (!begun.isEmpty()) {
                    batches.run(begun);
                }
                return;
            }
            // Nodes this rollout took down and has not brought back (a resume after a failure, a
            // restart mid-replacement) go first, whatever their batch: they use the budget until
            // they are back, and no other node could start before.
            // So do nodes found mid-step after a restart: they had been admitted before it.
            List<Plan.Node> down = byName.values().stream()
                    .filter(n -> batches.alreadyDown(n)
                            || journal.view().node(n.name()).state() == JournalView.NodeState.IN_PROGRESS)
                    .toList();
            if (!down.isEmpty() && !batches.run(down)) {
                return;
            }
            for (Plan.Batch b : plan.batches()) {
                String revoked = revokedTarget(b.nodes());
                if (revoked != null) {
                    halt(revoked);
                    return;
                }
                if (!batches.run(b.nodes())) {
                    return;
                }
            }
            List<Plan.Node> skipped = byName.values().stream()
                    .filter(n -> progress(n.name()).state() == JournalView.NodeState.SKIPPED)
                    .toList();
            if (!skipped.isEmpty()) {
                LOG.info("rollout {}: retrying {} node(s) whose drain was blocked", id(), skipped.size());
                if (!batches.run(skipped)) {
                    return;
                }
                List<String> still = skipped.stream()
                        .filter(n -> progress(n.name()).state() == JournalView.NodeState.SKIPPED)
                        .map(Plan.Node::name)
                        .toList();
                if (!still.isEmpty()) {
                    halt("the drain of " + String.join(", ", still) + " stayed blocked (PodDisruptionBudgets);"
                            + " rerun with --force-drain or fix the budgets, then kiln rollout resume " + id());
                    return;
                }
            }
            List<String> notDone = byName.values().stream()
                    .filter(n -> progress(n.name()).state() != JournalView.NodeState.DONE)
                    .map(n -> n.name() + " (" + progress(n.name()).state().wire + ")")
                    .toList();
            if (!notDone.isEmpty()) {
                // Never "done" unless every node is confirmed on its target.
                halt("not every node is on its target: " + String.join(", ", notDone) + "; kiln rollout resume " + id()
                        + " tries them again");
                return;
            }
            synchronized (this) {
                if (journal.view().phase() == JournalView.Phase.RUNNING) {
                    journal.append(EventType.DONE, null, null, byName.size() + " node(s) replaced");
                    currentStep = null;
                    journal.close();
                    LOG.info("rollout {} done", id());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            LOG.error("rollout {} stopped on an error", id(), e);
            try {
                halt("kiln serve error: " + e);
            } catch (IOException io) {
                LOG.error("rollout {}: cannot journal the halt: {}", id(), io.toString());
            }
        }
    }

    /**
     * Why the batch must not start because a version it hands out was revoked since the plan, or
     * null. Checked before every batch: a revoke reaches a running rollout before its next node.
     */
    private String revokedTarget(List<Plan.Node> batch) {
        for (Plan.Node n : batch) {
            if (progress(n.name()).state() == JournalView.NodeState.DONE || n.to() == null) {
                continue;
            }
            ImageRef to = ImageRef.parse(n.to());
            String why = server.revoked(to);
            if (why != null) {
                return to + " was revoked after the rollout began (" + why + "); no further node is handed it";
            }
        }
        return null;
    }

    boolean stopping() {
        return pauseRequested || abortRequested || haltRequested || controller.closed();
    }

    String failureOf(String node, JournalView.Node p) {
        String failed = journal.view().node(node).lastFailure();
        if (failed == null) {
            return p.detail();
        }
        return failed
                + (p.state() == JournalView.NodeState.ROLLED_BACK
                        ? "; it was rolled back to " + byName.get(node).from()
                        : "");
    }

    synchronized void halt(String why) throws IOException {
        if (journal.view().phase() != JournalView.Phase.RUNNING) {
            return;
        }
        journal.append(EventType.HALTED, null, null, why);
        currentStep = null;
        LOG.error("rollout {} HALTED: {}", id(), why);
    }

    /**
     * Whether this rollout left {@code node} down with no ready report since its last power cycle
     * (see {@link RolloutController#leftDown}).
     */
    boolean leftDown(String node, NodeStatus s) {
        if (!byName.containsKey(node)) {
            return false;
        }
        JournalView.Node v = journal.view().node(node);
        if (!v.leftDown()) {
            return false;
        }
        Instant power = v.lastPower();
        boolean readySince = s != null
                && "ready".equals(s.step())
                && s.receivedAt() != null
                && power != null
                && Instant.parse(s.receivedAt()).isAfter(power);
        return !readySince;
    }

    /**
     * Whether the node ran a version before this rollout (so taking it down uses the budget); plans
     * made before "from" was left out for never-booted nodes wrote the string "null".
     */
    static boolean wasServing(Plan.Node n) {
        return n.from() != null && !"null".equals(n.from());
    }

    // ---- what the node sequence asks of its rollout -----------------------------------------

    Journal journal() {
        return journal;
    }

    /** Pause, abort or a kiln serve shutdown: no node starts. */
    boolean stoppingNewNodes() {
        return pauseRequested || abortRequested || controller.closed();
    }

    /** Aborted with its nodes in progress going back (kiln rollout abort --back). */
    boolean goingBack() {
        return abortRequested && journal.view().goBack();
    }

    /** A node failed: the batch finishes its nodes in progress, then the rollout halts. */
    void requestHalt() {
        haltRequested = true;
    }

    boolean haltRequested() {
        return haltRequested;
    }

    /** What the rollout does now, for its status. */
    void doing(String what) {
        currentStep = what;
    }
}
