package dev.kiln.rollout;

import dev.kiln.core.store.ImageRef;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.rollout.JournalView.EventType;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
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
    record Progress(String state, String step, boolean stepEnded, Instant stepAt, String detail) {}

    Progress progress(String node) {
        JournalView.Node n = journal.view().node(node);
        return new Progress(n.state().wire, n.step(), n.stepEnded(), n.stepAt(), n.detail());
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
            Progress p = progress(n.name());
            nodes.add(new RolloutState.NodeState(
                    n.name(), n.role(), batchOf.get(n.name()), n.from(), n.to(), p.state(), p.step(), p.detail()));
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
            String st = progress(n.name()).state();
            if ("failed".equals(st) || "rolled-back".equals(st)) {
                journal.append(EventType.NODE_RETRIED, n.name(), null, "after " + st + ", by kiln rollout resume");
            }
        }
        pauseRequested = false;
        haltRequested = false;
        start();
        return state();
    }

    synchronized RolloutState abort() throws IOException, RolloutController.Refused {
        if (!journal.view().phase().allows(JournalView.Phase.ABORTED)) {
            throw new RolloutController.Refused(409, "rollout " + id() + " is " + overall() + " already");
        }
        abortRequested = true;
        journal.append(
                EventType.ABORTED,
                null,
                null,
                "by the operator; nodes not started stay on their versions, nodes in progress finish");
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

    /** A node begun and not finished: mid-step, the pause or abort waits for it. */
    private boolean begun(Plan.Node n) {
        return journal.view().node(n.name()).state() == JournalView.NodeState.IN_PROGRESS;
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
            String reimage = server.directive(n.mac()).get("reimage");
            if (reimage != null
                    && (reimage.equals(id())
                            || reimage.startsWith(id() + "-retry")
                            || reimage.startsWith(id() + "-rollback"))) {
                try {
                    server.clearDirective(n.mac());
                } catch (IOException e) {
                    LOG.error("rollout {}: cannot clear the directive of {}: {}", id(), n.name(), e.toString());
                }
            }
        }
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
            // Nodes this rollout took down and has not brought back (a resume after a failure, a
            // restart mid-replacement) go first, whatever their batch: they use the budget until
            // they are back, and no other node could start before.
            List<Plan.Node> down =
                    byName.values().stream().filter(this::alreadyDown).toList();
            if (!down.isEmpty() && !runBatch(down)) {
                return;
            }
            for (Plan.Batch b : plan.batches()) {
                String revoked = revokedTarget(b.nodes());
                if (revoked != null) {
                    halt(revoked);
                    return;
                }
                if (!runBatch(b.nodes())) {
                    return;
                }
            }
            List<Plan.Node> skipped = byName.values().stream()
                    .filter(n -> "skipped".equals(progress(n.name()).state()))
                    .toList();
            if (!skipped.isEmpty()) {
                LOG.info("rollout {}: retrying {} node(s) whose drain was blocked", id(), skipped.size());
                if (!runBatch(skipped)) {
                    return;
                }
                List<String> still = skipped.stream()
                        .filter(n -> "skipped".equals(progress(n.name()).state()))
                        .map(Plan.Node::name)
                        .toList();
                if (!still.isEmpty()) {
                    halt("the drain of " + String.join(", ", still) + " stayed blocked (PodDisruptionBudgets);"
                            + " rerun with --force-drain or fix the budgets, then kiln rollout resume " + id());
                    return;
                }
            }
            List<String> notDone = byName.values().stream()
                    .filter(n -> !"done".equals(progress(n.name()).state()))
                    .map(n -> n.name() + " (" + progress(n.name()).state() + ")")
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
            String st = progress(n.name()).state();
            if ("done".equals(st) || n.to() == null) {
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

    private boolean stopping() {
        return pauseRequested || abortRequested || haltRequested || controller.closed();
    }

    /** Runs one batch within the budget; false when the rollout must not go on (paused, halted...). */
    private boolean runBatch(List<Plan.Node> batch) throws InterruptedException, IOException {
        List<Plan.Node> pending = new ArrayList<>();
        for (Plan.Node n : batch) {
            if (JournalView.NodeState.TO_DO.contains(
                    journal.view().node(n.name()).state())) {
                pending.add(n);
            }
        }
        if (pending.isEmpty()) {
            return !stopping();
        }
        ExecutorService pool = env.workers("kiln-rollout-" + id() + "-node", Math.min(pending.size(), 128));
        Map<Plan.Node, Future<Boolean>> running = new LinkedHashMap<>();
        Instant waitingSince = null;
        try {
            while (!pending.isEmpty() || !running.isEmpty()) {
                // Paused or aborted, only nodes begun before (found mid-step after a restart) are
                // seen through; none starts.
                List<Plan.Node> admissible =
                        stopping() ? pending.stream().filter(this::begun).toList() : List.copyOf(pending);
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
                            .map(n -> new Admission.Candidate(n, wasServing(n), alreadyDown(n)))
                            .toList();
                    for (Plan.Node n : Admission.admit(waiting, replacing, down, plan.maxUnavailable())) {
                        pending.remove(n);
                        running.put(n, pool.submit(() -> steps.replace(n)));
                    }
                    if (running.isEmpty() && !pending.isEmpty()) {
                        if (waitingSince == null) {
                            waitingSince = env.now();
                            currentStep = "waiting: " + down + " node(s) of the cluster are not ready, which uses"
                                    + " the budget of " + plan.maxUnavailable();
                            LOG.info("rollout {}: {}", id(), currentStep);
                        } else if (Duration.between(waitingSince, env.now()).getSeconds() > plan.nodeTimeoutSeconds()) {
                            halt("no budget for " + plan.nodeTimeoutSeconds() + " s: " + down
                                    + " node(s) not ready outside this rollout");
                            return false;
                        }
                    } else {
                        waitingSince = null;
                    }
                } else if (stopping() && running.isEmpty()) {
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
                                    id(),
                                    e.getKey().name(),
                                    ex.getCause());
                            ok = false;
                        }
                        if (!ok
                                && !haltRequested
                                && "failed".equals(progress(e.getKey().name()).state())) {
                            haltRequested = true;
                        }
                    }
                }
                if (haltRequested && running.isEmpty()) {
                    Progress p = null;
                    String failed = null;
                    for (Plan.Node n : batch) {
                        Progress q = progress(n.name());
                        if ("failed".equals(q.state()) || "rolled-back".equals(q.state())) {
                            failed = n.name();
                            p = q;
                        }
                    }
                    halt(failed == null ? "a node failed" : failed + " failed: " + failureOf(failed, p));
                    return false;
                }
            }
            return !stopping();
        } finally {
            pool.shutdownNow();
        }
    }

    private String failureOf(String node, Progress p) {
        String failed = journal.view().node(node).lastFailure();
        if (failed == null) {
            return p.detail();
        }
        return failed
                + ("rolled-back".equals(p.state())
                        ? "; it was rolled back to " + byName.get(node).from()
                        : "");
    }

    private synchronized void halt(String why) throws IOException {
        if (journal.view().phase() != JournalView.Phase.RUNNING) {
            return;
        }
        journal.append(EventType.HALTED, null, null, why);
        currentStep = null;
        LOG.error("rollout {} HALTED: {}", id(), why);
    }

    /** A node this rollout took down and has not brought back: its budget is already spent. */
    private boolean alreadyDown(Plan.Node n) {
        JournalView.Node v = journal.view().node(n.name());
        boolean ours = v.state() == JournalView.NodeState.RETRY_DOWN
                || (v.state() == JournalView.NodeState.IN_PROGRESS && JournalView.wentDownAt(v.step()));
        // One that reported ready since its last power cycle (back on the wrong image, or a power
        // step whose BMC refused) is up: taking it down again spends the budget like any other.
        return ours && leftDown(n.name(), server.status(n.mac()));
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

    /** A node failed: the batch finishes its nodes in progress, then the rollout halts. */
    void requestHalt() {
        haltRequested = true;
    }

    /** What the rollout does now, for its status. */
    void doing(String what) {
        currentStep = what;
    }
}
