package dev.kiln.rollout;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.FleetFeeds;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.rollout.JournalView.EventType;
import dev.kiln.validator.NodeChecks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rollout controller, inside kiln serve: the single writer of node versions. It plans, runs
 * every rollout on its own thread (so a rollout goes on when the operator's terminal closes),
 * journals each intent before acting on it, and on start resumes what a killed kiln serve left
 * running.
 */
public final class RolloutController implements FleetFeeds, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RolloutController.class);
    private static final DateTimeFormatter ID_TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

    /** How nodes of a cluster are replaced, and what keeps the cluster safe meanwhile. */
    public interface Drivers {
        /**
         * @param rolloutId the rollout the replacer works for (null while planning): EC2 makes it
         *     part of each launch's idempotency token
         */
        NodeReplacer replacer(String cluster, String rolloutId) throws IOException;

        ClusterGuard guard(String cluster, Manifest target) throws IOException;

        /**
         * What {@code to} is on this cluster's machines when it is not the image itself (EC2: the
         * concrete AMI id in the cluster's region), or null.
         *
         * @throws IOException naming what is missing (not published there)
         */
        default String artifact(String cluster, dev.kiln.core.store.ImageRef to) throws IOException {
            return null;
        }

        /**
         * The Auto Scaling worker pool {@code pool} of an EC2 cluster (its aws.pools entry).
         *
         * @throws IOException when the cluster has no such pool
         */
        default dev.kiln.rollout.ec2.AsgPool pool(String cluster, String pool) throws IOException {
            throw new IOException("cluster " + cluster + " has no Auto Scaling pools here");
        }

        /** Whether the cluster's machines boot over the network (bare metal) rather than from a disk image. */
        default boolean networkBoot(String cluster) {
            return true;
        }
    }

    private final FleetState server;
    private final Drivers drivers;
    private final EngineEnv env;
    private final Planner planner;
    private final Map<String, RolloutRun> runs = new ConcurrentHashMap<>();
    private final Map<String, AsgRollout> poolRuns = new ConcurrentHashMap<>();
    private final Duration poll;
    private volatile boolean closed;

    private RolloutController(FleetState server, Drivers drivers, Duration poll, EngineEnv env) {
        this.server = server;
        this.drivers = drivers;
        this.env = env;
        this.planner = new Planner(server, drivers, env);
        this.poll = poll;
    }

    /**
     * Plugs a controller into {@code server} (its /rollouts API and the fleet page's rollouts) and
     * resumes the rollouts its state says were running.
     */
    public static RolloutController attach(KilnServer server, Drivers drivers) throws IOException {
        return attach(server, drivers, Duration.ofMillis(500));
    }

    static RolloutController attach(KilnServer server, Drivers drivers, Duration poll) throws IOException {
        RolloutController c = open(FleetState.of(server), drivers, poll, EngineEnv.SYSTEM);
        server.rolloutApi(new RolloutApi(c));
        server.feeds(c);
        return c;
    }

    /**
     * A controller over {@code fleet} that resumes the rollouts its journals say were running (the
     * simulation opens one per kiln serve incarnation, on the same state).
     */
    static RolloutController open(FleetState fleet, Drivers drivers, Duration poll, EngineEnv env) throws IOException {
        RolloutController c = new RolloutController(fleet, drivers, poll, env);
        c.resumeAll();
        return c;
    }

    FleetState server() {
        return server;
    }

    EngineEnv env() {
        return env;
    }

    Duration poll() {
        return poll;
    }

    // ---- plan and apply ----------------------------------------------------------------------

    public Plan plan(PlanRequest req) throws IOException, InterruptedException {
        try (NodeReplacer replacer = drivers.replacer(req.cluster(), null)) {
            ClusterGuard guard = guardFor(req.cluster(), req.to());
            return planner.plan(req, replacer, guard, activeOn(req.cluster()), null);
        }
    }

    /**
     * Starts a plan made earlier. The server plans again from what it knows now and trusts the
     * client's plan for nothing but its node list and state hash: refused when the fresh plan is
     * blocked (every plan-time blocker runs again: revoked, unvalidated, out of its environment,
     * missing output, machines that do not answer), when the fleet changed since the plan (its
     * state hash or node list differ), or when another rollout runs on the cluster.
     */
    public synchronized RolloutState apply(Plan plan) throws IOException, InterruptedException, Refused {
        if (plan == null || plan.cluster() == null) {
            throw new Refused(400, "expected a plan made by kiln rollout plan (-o plan.json)");
        }
        if (plan.rollbackOf() != null) {
            throw new Refused(
                    400,
                    "a rollback is started by kiln rollout rollback " + plan.rollbackOf() + ", not from a plan file");
        }
        String active = activeOn(plan.cluster());
        if (active != null) {
            throw new Refused(
                    409,
                    "rollout " + active + " is already running on cluster " + plan.cluster()
                            + "; one rollout per cluster (kiln rollout status " + active + ")");
        }
        Plan fresh = plan(requestOf(plan));
        if (!fresh.stateHash().equals(plan.stateHash()) || !sameNodes(fresh, plan)) {
            throw new Refused(
                    409,
                    "the plan is stale: the fleet changed since it was made at " + plan.createdAt()
                            + " (a node rebooted, reported or was re-pointed, the inventory changed, or a"
                            + " channel moved); make a new plan");
        }
        if (fresh.blocked()) {
            throw new Refused(409, "blocked now: " + String.join("; ", fresh.blockers()));
        }
        return start(fresh);
    }

    private static boolean sameNodes(Plan a, Plan b) {
        return a.nodes().stream()
                .map(n -> n.mac() + ">" + n.to())
                .toList()
                .equals(b.nodes().stream().map(n -> n.mac() + ">" + n.to()).toList());
    }

    /** Journals and starts a plan the server made (never one read from a client as it is). */
    private RolloutState start(Plan plan) throws IOException {
        String id = newId(plan.cluster());
        Journal journal = Journal.create(server.state(), id, plan, env);
        journal.append(
                EventType.CREATED,
                null,
                null,
                "target " + plan.target() + ", max unavailable " + plan.maxUnavailable());
        RolloutRun run = new RolloutRun(this, journal, plan);
        runs.put(id, run);
        run.start();
        LOG.info(
                "rollout {} of cluster {} to {} started ({} nodes in {} batches)",
                id,
                plan.cluster(),
                plan.target(),
                plan.nodes().size(),
                plan.batches().size());
        return run.state();
    }

    /** kiln rollout plan --pool: see {@link AsgRollout#plan}. */
    public PoolPlan planPool(PoolPlanRequest req) throws IOException {
        return AsgRollout.plan(this, req);
    }

    /** Starts a pool plan; refused when blocked, stale (the group changed) or the cluster is busy. */
    public synchronized RolloutState applyPool(PoolPlan plan) throws IOException, Refused {
        if (plan == null || plan.cluster() == null || plan.pool() == null) {
            throw new Refused(400, "expected a pool plan made by kiln rollout plan --pool (-o plan.json)");
        }
        String active = activeOn(plan.cluster());
        if (active != null) {
            throw new Refused(
                    409,
                    "rollout " + active + " is already running on cluster " + plan.cluster()
                            + "; one rollout per cluster (kiln rollout status " + active + ")");
        }
        if (plan.blocked()) {
            throw new Refused(409, "the plan is blocked: " + String.join("; ", plan.blockers()));
        }
        String stale = AsgRollout.stale(this, plan);
        if (stale != null) {
            throw new Refused(409, "the plan is stale: " + stale + "; make a new plan");
        }
        String id = newId(plan.cluster() + "-" + plan.pool());
        AsgRollout run = AsgRollout.create(this, server.state(), id, plan);
        poolRuns.put(id, run);
        run.start();
        LOG.info("pool rollout {} of {} (group {}) to {} started", id, plan.pool(), plan.group(), plan.target());
        return run.state();
    }

    private static PlanRequest requestOf(Plan plan) {
        return new PlanRequest(
                plan.cluster(),
                plan.asked() == null || plan.asked().startsWith("the inventory") ? null : plan.asked(),
                plan.budget(),
                plan.onFailure(),
                plan.drainTimeoutSeconds(),
                plan.nodeTimeoutSeconds(),
                plan.forceDrain(),
                plan.allowUnvalidated());
    }

    /**
     * Takes every node the rollout replaced back to where it was, as a new rollout: of a done,
     * halted or aborted rollout. The new rollout is admitted first; only then is the original
     * marked rolled back, so a refused rollback changes nothing.
     */
    public synchronized RolloutState rollback(String id) throws IOException, InterruptedException, Refused {
        if (poolRuns.containsKey(id)) {
            return poolRuns.get(id).rollback();
        }
        RolloutRun run = get(id);
        RolloutState was = run.state();
        if (was.active()) {
            throw new Refused(409, "rollout " + id + " is " + was.state() + "; abort it first");
        }
        if ("rolled-back".equals(was.state())) {
            throw new Refused(409, "rollout " + id + " was rolled back already");
        }
        if (run.busy()) {
            throw new Refused(
                    409,
                    "rollout " + id + " was aborted and nodes it had begun are still finishing; try again when"
                            + " kiln rollout status " + id + " shows none in progress");
        }
        Map<String, ImageRef> back = new LinkedHashMap<>();
        List<Plan.Node> replaced = new ArrayList<>(run.replacedNodes());
        java.util.Collections.reverse(replaced);
        for (Plan.Node n : replaced) {
            if (n.from() != null && !"null".equals(n.from())) {
                back.put(n.mac(), ImageRef.parse(n.from()));
            }
        }
        if (back.isEmpty()) {
            throw new Refused(409, "rollout " + id + " replaced no node; nothing to roll back");
        }
        String active = activeOn(run.plan().cluster());
        if (active != null) {
            throw new Refused(
                    409,
                    "rollout " + active + " is running on cluster " + run.plan().cluster());
        }
        Plan original = run.plan();
        PlanRequest req = new PlanRequest(
                original.cluster(),
                null,
                original.budget(),
                "halt",
                original.drainTimeoutSeconds(),
                original.nodeTimeoutSeconds(),
                original.forceDrain(),
                true);
        Plan plan;
        try (NodeReplacer replacer = drivers.replacer(original.cluster(), null)) {
            plan = planner.planTo(req, back, replacer, guardFor(original.cluster(), null), null, id);
        }
        if (plan.blocked()) {
            throw new Refused(409, "the rollback of " + id + " is blocked: " + String.join("; ", plan.blockers()));
        }
        if (plan.nodes().isEmpty()) {
            throw new Refused(
                    409,
                    "every node rollout " + id + " replaced is handed its previous version already"
                            + " (its failed nodes were taken back); nothing to roll back");
        }
        RolloutState started = start(plan);
        run.markRolledBack(started.id());
        return started;
    }

    public RolloutState pause(String id) throws IOException, Refused {
        notPool(id, "paused");
        return get(id).pause();
    }

    private void notPool(String id, String what) throws Refused {
        if (poolRuns.containsKey(id)) {
            throw new Refused(
                    409,
                    "pool rollout " + id + " cannot be " + what + ": it halts on a failure, and"
                            + " kiln rollout rollback " + id + " takes the pool back");
        }
    }

    public RolloutState resume(String id) throws IOException, Refused {
        notPool(id, "resumed");
        String active = activeOn(get(id).plan().cluster());
        if (active != null && !active.equals(id)) {
            throw new Refused(409, "rollout " + active + " is running on the cluster");
        }
        return get(id).resume();
    }

    public RolloutState abort(String id) throws IOException, Refused {
        return abort(id, false);
    }

    /** @param back nodes in progress go back to their previous version instead of finishing */
    public RolloutState abort(String id, boolean back) throws IOException, Refused {
        notPool(id, "aborted");
        return get(id).abort(back);
    }

    public RolloutState status(String id) throws Refused {
        if (id != null && poolRuns.containsKey(id)) {
            return poolRuns.get(id).state();
        }
        return get(id).state();
    }

    public List<RolloutState> list() {
        return Stream.concat(
                        runs.values().stream().map(RolloutRun::state),
                        poolRuns.values().stream().map(AsgRollout::state))
                .sorted(Comparator.comparing(RolloutState::startedAt).reversed())
                .toList();
    }

    private RolloutRun get(String id) throws Refused {
        RolloutRun run = id == null ? null : runs.get(id);
        if (run == null) {
            throw new Refused(404, "no rollout " + id + " (kiln rollout list shows them)");
        }
        return run;
    }

    /** The id of the running or paused rollout of {@code cluster}, or null. */
    String activeOn(String cluster) {
        return runs.values().stream()
                .filter(r -> r.plan().cluster().equals(cluster) && (r.state().active() || r.busy()))
                .map(RolloutRun::id)
                .findFirst()
                .orElseGet(() -> poolRuns.values().stream()
                        .filter(r -> r.plan().cluster().equals(cluster) && r.active())
                        .map(AsgRollout::id)
                        .findFirst()
                        .orElse(null));
    }

    /**
     * Whether some rollout of {@code cluster} took the node down and it has not reported ready
     * since. A machine that never came back sends nothing: kiln serve's last report of it still
     * says ready, from before the power cycle, and would let the next rollout spend its budget.
     */
    /** Whether a rollout thread still works (an aborted rollout's nodes in progress finishing). */
    boolean busy() {
        return runs.values().stream().anyMatch(RolloutRun::busy);
    }

    boolean leftDown(String cluster, String node, dev.kiln.fleet.NodeStatus status) {
        for (RolloutRun r : runs.values()) {
            if (r.plan().cluster().equals(cluster) && r.leftDown(node, status)) {
                return true;
            }
        }
        return false;
    }

    ClusterGuard guardFor(String cluster, String target) throws IOException {
        Manifest manifest = null;
        String first = target == null ? null : target.split(",")[0].trim();
        if (first != null && !first.contains("@")) {
            try {
                manifest = server.store().manifest(ImageRef.parse(first));
            } catch (IOException | IllegalArgumentException e) {
                manifest = null;
            }
        }
        if (manifest == null) {
            List<Inventory.Member> ms = planner.members(cluster);
            try {
                manifest = server.store().manifest(server.currentImage(ms.get(0).mac()));
            } catch (IOException e) {
                manifest = null;
            }
        }
        return drivers.guard(cluster, manifest);
    }

    /** The checks a node booting {@code to} runs, as the "kilnChecks" metadata value, or null. */
    String checksFor(ImageRef to) {
        try {
            return new NodeChecks(server.store().manifest(to)).metadataValue();
        } catch (IOException e) {
            return null;
        }
    }

    Manifest manifest(ImageRef ref) throws IOException {
        return server.store().manifest(ref);
    }

    Drivers drivers() {
        return drivers;
    }

    boolean closed() {
        return closed;
    }

    private String newId(String cluster) {
        String base = cluster + "-" + ID_TIME.format(env.now());
        String id = base;
        for (int i = 2;
                runs.containsKey(id)
                        || poolRuns.containsKey(id)
                        || Files.exists(Journal.root(server.state()).resolve(id));
                i++) {
            id = base + "-" + i;
        }
        return id;
    }

    private void resumeAll() throws IOException {
        Path root = Journal.root(server.state());
        if (!Files.isDirectory(root)) {
            return;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                if (Files.exists(dir.resolve(AsgRollout.PLAN))) {
                    AsgRollout pool = AsgRollout.load(this, dir);
                    poolRuns.put(pool.id(), pool);
                    pool.restarted();
                    continue;
                }
                if (!Files.exists(dir.resolve(Journal.PLAN))) {
                    continue; // a crash between mkdir and the plan's rename: nothing was started
                }
                Journal journal = Journal.open(dir, env);
                RolloutRun run = new RolloutRun(this, journal, journal.plan());
                runs.put(run.id(), run);
                if (run.state().active()) {
                    LOG.info(
                            "rollout {} was {} when kiln serve stopped; re-probing its nodes and going on",
                            run.id(),
                            run.state().state());
                    run.restarted();
                } else if ("aborted".equals(run.state().state())) {
                    run.finishAborted();
                } else {
                    journal.close();
                }
            }
        }
    }

    // ---- fleet page -------------------------------------------------------------------------

    @Override
    public List<FleetFeeds.Rollout> rollouts() {
        return list().stream().limit(10).map(RolloutController::feed).toList();
    }

    private static FleetFeeds.Rollout feed(RolloutState s) {
        Map<Integer, List<FleetFeeds.RolloutNode>> byBatch = new java.util.TreeMap<>();
        for (RolloutState.NodeState n : s.nodes()) {
            byBatch.computeIfAbsent(n.batch(), k -> new ArrayList<>())
                    .add(new FleetFeeds.RolloutNode(n.name(), n.from(), n.to(), n.step(), n.state()));
        }
        return new FleetFeeds.Rollout(
                s.id(),
                s.cluster(),
                s.target(),
                s.state(),
                s.reason(),
                s.currentStep(),
                s.startedAt(),
                s.estimateSeconds(),
                s.elapsedSeconds(),
                byBatch.entrySet().stream()
                        .map(e -> new FleetFeeds.Batch(e.getKey(), e.getValue()))
                        .toList());
    }

    /** Stops the rollout threads (a kiln serve shutdown); the journals let the next start go on. */
    @Override
    public void close() {
        closed = true;
        runs.values().forEach(RolloutRun::stopThread);
        poolRuns.values().forEach(AsgRollout::stopThread);
    }

    /** A refused operator request, with the HTTP status it maps to. */
    public static final class Refused extends Exception {
        private final int status;

        Refused(int status, String message) {
            super(message);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }
}
