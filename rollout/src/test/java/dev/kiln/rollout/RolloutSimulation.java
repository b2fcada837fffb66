package dev.kiln.rollout;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.InventoryLoader;
import dev.kiln.fleet.StateDir;
import dev.kiln.fleet.TestStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * One deterministic simulation of a rollout, drawn from a seed: a fleet (1-5 masters, 0-200
 * workers), a target and a budget, faults at random moments (machines that never return, return on
 * the wrong image or fail; BMC errors and a wrong password; an unhealthy etcd member; drains held
 * by PodDisruptionBudgets; a worker down before the plan; kill -9 of kiln serve at a journal write,
 * with the line torn; operator pause, resume, abort and rollback; a revoke of the target) and the
 * real controller (planner, run, journal, admission) on {@link SimEnv}'s virtual clock. The
 * invariants are checked as the engine acts ({@link SimWorld}) and when it ends (here).
 *
 * <p>Same seed, same run: {@code bench/rollout.sh faults --seed N} replays one.
 */
final class RolloutSimulation {
    static final ImageRef A = ImageRef.parse(SimFleet.A);
    static final ImageRef B = ImageRef.parse(SimFleet.B);
    private static final Duration POLL = Duration.ofSeconds(5);
    private static final Duration OPERATOR_LOOKS = Duration.ofSeconds(15);
    private static final Duration GIVE_UP = Duration.ofHours(72);
    private static volatile Path sharedStore;

    /**
     * @param violation the first invariant broken (null: all held)
     * @param faults faults injected, by kind
     * @param checks invariant checks made, by invariant
     */
    record Result(
            long seed,
            String violation,
            Map<String, Integer> faults,
            Map<String, Integer> checks,
            String fleet,
            List<String> story) {
        boolean ok() {
            return violation == null;
        }

        String replay() {
            return "bench/rollout.sh faults --seed " + seed;
        }
    }

    private final long seed;
    private final Random random;
    private final SimEnv env;
    private final Path dir;
    private final Map<String, Integer> faults = new TreeMap<>();
    private final List<String> story = new ArrayList<>();
    private SimWorld world;
    private RolloutController controller;
    private int kills;
    private String budget;
    private final Set<String> abortedBack = new HashSet<>();

    private RolloutSimulation(long seed, Path dir) {
        this.seed = seed;
        this.random = new Random(seed);
        this.env = new SimEnv(new Random(seed * 31 + 7));
        this.dir = dir;
    }

    /** Runs the scenario of {@code seed} in a temporary directory under {@code tmp}, removed after. */
    static Result run(long seed, Path tmp) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory(tmp, "sim-" + seed + "-");
        try {
            return new RolloutSimulation(seed, dir).run();
        } finally {
            deleteTree(dir);
        }
    }

    private Result run() throws IOException, InterruptedException {
        int masters = 1 + random.nextInt(5);
        double u = random.nextDouble();
        int workers = (int) (200 * u * u * u); // mostly small fleets, some of 200
        String fleet = masters + " master(s) + " + workers + " worker(s)";
        String inv = SimFleet.inventory(masters, workers);
        Path invFile = dir.resolve("inventory.yaml");
        Files.writeString(invFile, inv);
        ImageStore store = new ImageStore(store());
        Inventory inventory;
        try {
            inventory = InventoryLoader.parse(invFile, inv, store);
        } catch (dev.kiln.fleet.InventoryException e) {
            throw new IOException(e);
        }
        world = new SimWorld(env, random, inventory, store, StateDir.open(dir.resolve("state")));
        String[] budgets = {"1", "2", "25%", "50%"};
        budget = budgets[random.nextInt(budgets.length)];
        world.budget(budget, Budget.of(budget, masters + workers));
        drawMachineFaults();
        try (QuietEngine quiet = QuietEngine.unless(Boolean.getBoolean("kiln.sim.logs"))) {
            env.run(this::operate);
        }
        String violation = world.violation();
        if (violation == null) {
            violation = replayMatches();
        }
        if (violation == null) {
            violation = directivesCleared();
        }
        if (violation == null) {
            violation = tookBack();
        }
        if (Boolean.getBoolean("kiln.sim.journals")) {
            Path root = Journal.root(world.state());
            try (Stream<Path> dirs = Files.isDirectory(root) ? Files.list(root) : Stream.empty()) {
                for (Path d : dirs.sorted().toList()) {
                    story.add("journal " + d.getFileName() + ":");
                    Path f = d.resolve(Journal.EVENTS);
                    if (Files.exists(f)) {
                        Files.readAllLines(f).forEach(l -> story.add("  " + l));
                    }
                }
            }
        }
        return new Result(seed, violation, faults, world.checks(), fleet + ", budget " + budget, story);
    }

    private void fault(String kind) {
        faults.merge(kind, 1, Integer::sum);
    }

    private void tell(String what) {
        story.add(env.now() + " " + what);
    }

    /** Up to three machines with a fault each: enough to hit every path, few enough to finish. */
    private void drawMachineFaults() {
        List<SimWorld.Machine> all = world.machines();
        int k = random.nextInt(4);
        for (int i = 0; i < k; i++) {
            SimWorld.Machine m = all.get(random.nextInt(all.size()));
            switch (random.nextInt(6)) {
                case 0 -> {
                    m.neverReturns = true;
                    fault("node never returns");
                }
                case 1 -> {
                    m.wrongImage = true;
                    fault("node returns on the wrong image");
                }
                case 2 -> {
                    m.reportsFailed = true;
                    fault("node fails its boot");
                }
                case 3 -> {
                    m.failsChecks = true;
                    fault("node fails its checks");
                }
                case 4 -> {
                    m.bmcErrors = 1 + random.nextInt(2);
                    fault("BMC error");
                }
                default -> {
                    m.drainBlockedUntil = env.now().plusSeconds(30 + random.nextInt(1200));
                    fault("drain blocked by a PodDisruptionBudget");
                }
            }
        }
        List<SimWorld.Machine> workers =
                world.machines().stream().filter(m -> !m.master()).toList();
        if (!workers.isEmpty() && random.nextDouble() < 0.15) {
            SimWorld.Machine m = workers.get(random.nextInt(workers.size()));
            world.crash(m, Duration.ofSeconds(60 + random.nextInt(1800)));
            fault("node down before the plan");
        }
    }

    // ---- the operator -------------------------------------------------------------------------

    private void operate() {
        try {
            startServe();
            PlanRequest req = new PlanRequest(
                    "sim", B.toString(), budget, random.nextBoolean() ? "halt" : "rollback", 120L, 600L, false, true);
            Plan plan = controller.plan(req);
            if (plan.blocked()) {
                tell("plan blocked: " + plan.blockers());
                return;
            }
            // Faults the plan did not see: they arrive during the rollout.
            Instant start = env.now();
            List<SimWorld.Machine> masters =
                    world.machines().stream().filter(SimWorld.Machine::master).toList();
            if (random.nextDouble() < 0.15) {
                SimWorld.Machine m = masters.get(random.nextInt(masters.size()));
                m.etcdUnhealthyFrom = start.plusSeconds(30 + random.nextInt(3000));
                m.etcdUnhealthyUntil = m.etcdUnhealthyFrom.plusSeconds(60 + random.nextInt(900));
                fault("etcd member unhealthy");
            }
            if (random.nextDouble() < 0.03) {
                SimWorld.Machine m =
                        world.machines().get(random.nextInt(world.machines().size()));
                m.bmcWrongPassword = true;
                fault("BMC wrong password");
            }
            Instant pauseAt = random.nextDouble() < 0.2 ? start.plusSeconds(random.nextInt(3000)) : null;
            Instant abortAt = random.nextDouble() < 0.1 ? start.plusSeconds(random.nextInt(3000)) : null;
            Instant revokeAt = random.nextDouble() < 0.1 ? start.plusSeconds(random.nextInt(3000)) : null;
            int killsPlanned = random.nextDouble() < 0.35 ? 1 + random.nextInt(3) : 0;
            String id;
            try {
                id = controller.apply(plan).id();
            } catch (RolloutController.Refused r) {
                tell("apply refused: " + r.getMessage());
                return;
            } catch (SimEnv.Killed k) {
                tell("kiln serve killed while starting the rollout");
                restartServe();
                id = controller.list().isEmpty()
                        ? null
                        : controller.list().get(0).id();
                if (id == null) {
                    return;
                }
            }
            tell("rollout " + id + " started: " + plan.nodes().size() + " node(s), budget " + plan.budget());
            Set<String> seenDone = new HashSet<>();
            Instant resumeAt = null;
            int resumes = 0;
            boolean rolledBack = false;
            while (true) {
                if (killsPlanned > 0 && env.kills() == kills && random.nextDouble() < 0.1) {
                    env.killAtJournalWrite(random.nextInt(8 * plan.nodes().size() + 4));
                    killsPlanned--;
                    fault("kill -9 of kiln serve at a journal write");
                }
                env.sleep(OPERATOR_LOOKS);
                if (env.kills() != kills) {
                    tell("kiln serve was killed; restarting it");
                    env.sleep(Duration.ofSeconds(5 + random.nextInt(60)));
                    restartServe();
                    continue;
                }
                if (Duration.between(start, env.now()).compareTo(GIVE_UP) > 0) {
                    world.violated(
                            "every rollout ends",
                            "rollouts still "
                                    + controller.list().stream()
                                            .map(s -> s.id() + " " + s.state())
                                            .toList() + " after " + GIVE_UP.toHours() + " h");
                    return;
                }
                Instant now = env.now();
                RolloutState s = controller.status(id);
                if (pauseAt != null && now.isAfter(pauseAt)) {
                    pauseAt = null;
                    act("pause", id);
                    resumeAt = now.plusSeconds(30 + random.nextInt(900));
                    continue;
                }
                if (resumeAt != null && now.isAfter(resumeAt) && "paused".equals(s.state())) {
                    resumeAt = null;
                    act("resume", id);
                    continue;
                }
                if (abortAt != null && now.isAfter(abortAt)) {
                    abortAt = null;
                    act(random.nextBoolean() ? "abort --back" : "abort", id);
                    continue;
                }
                if (revokeAt != null && now.isAfter(revokeAt)) {
                    revokeAt = null;
                    world.revoke(B, "CVE in the simulation");
                    fault("revoke of the target mid-rollout");
                    tell("revoked " + B);
                    continue;
                }
                for (RolloutState r : controller.list()) {
                    if ("done".equals(r.state()) && seenDone.add(r.id())) {
                        checkDone(r);
                    }
                }
                if (s.active()) {
                    if ("paused".equals(s.state()) && resumeAt == null) {
                        resumeAt = now.plusSeconds(60);
                    }
                    continue;
                }
                // The rollout ended (done, halted, aborted): what an operator does next.
                String active = controller.activeOn("sim");
                if (active != null) {
                    if (!active.equals(id)) {
                        id = active; // a rollback runs: follow it
                    }
                    continue;
                }
                if ("halted".equals(s.state()) && resumes < 3 && random.nextDouble() < 0.7) {
                    resumes++;
                    for (SimWorld.Machine m : world.machines()) {
                        if (random.nextDouble() < 0.7) {
                            m.clearFaults();
                        }
                    }
                    act("resume", id);
                    continue;
                }
                if (!rolledBack
                        && s.rollbackOf() == null
                        && !"rolled-back".equals(s.state())
                        && random.nextDouble() < 0.3) {
                    rolledBack = true;
                    world.machines().forEach(SimWorld.Machine::clearFaults);
                    String back = act("rollback", id);
                    if (back != null) {
                        id = back;
                    }
                    continue;
                }
                if (controller.busy()) {
                    continue; // an aborted rollout's nodes in progress finish first
                }
                tell("the operator leaves rollout " + id + " " + s.state());
                return;
            }
        } catch (SimEnv.Killed k) {
            throw new IllegalStateException("kill -9 reached the operator outside a request", k);
        } catch (IOException | InterruptedException | RolloutController.Refused e) {
            throw new IllegalStateException(e);
        } finally {
            if (controller != null) {
                controller.close();
            }
        }
    }

    /** One operator request; a refusal is an answer, a kill -9 during it restarts kiln serve. */
    private String act(String what, String id) throws IOException, InterruptedException {
        fault("operator " + what);
        try {
            RolloutState s = switch (what) {
                case "pause" -> controller.pause(id);
                case "resume" -> controller.resume(id);
                case "abort" -> controller.abort(id);
                case "abort --back" -> {
                    abortedBack.add(id);
                    yield controller.abort(id, true);
                }
                case "rollback" -> controller.rollback(id);
                default -> throw new IllegalArgumentException(what);
            };
            tell("operator " + what + " " + id + ": " + s.id() + " " + s.state());
            return s.id();
        } catch (RolloutController.Refused r) {
            tell("operator " + what + " " + id + " refused: " + r.getMessage());
            return null;
        } catch (SimEnv.Killed k) {
            tell("kiln serve killed during " + what);
            restartServe();
            return null;
        }
    }

    private void startServe() throws IOException {
        controller = RolloutController.open(world, world, POLL, env);
    }

    private void restartServe() throws IOException {
        kills = env.kills();
        env.killAtJournalWrite(-1);
        startServe();
    }

    // ---- invariants at the end ----------------------------------------------------------------

    /** done means every node of the rollout reports its target, now. */
    private void checkDone(RolloutState r) {
        world.checked("done means every node reports the target");
        for (RolloutState.NodeState n : r.nodes()) {
            SimWorld.Machine m = world.machine(n.name());
            if (!m.up || !m.running.toString().equals(n.to())) {
                world.violated(
                        "done means every node reports the target",
                        "rollout " + r.id() + " is done but " + n.name() + " runs " + m.running
                                + (m.up ? "" : " and is down") + ", not " + n.to());
            }
        }
    }

    /**
     * A rollout that ended done or aborted leaves no boot directive of its own behind: a node's
     * next boot (a power cut, an operator's reboot) must not reimage it for a rollout that is over.
     */
    private String directivesCleared() {
        if (controller == null) {
            return null;
        }
        for (RolloutState r : controller.list()) {
            if (!"done".equals(r.state()) && !"aborted".equals(r.state())) {
                continue;
            }
            world.checked("an ended rollout leaves no boot directive");
            for (RolloutState.NodeState n : r.nodes()) {
                Map<String, String> directive =
                        world.directive(world.machine(n.name()).member.mac());
                if (RolloutRun.directs(r.id(), directive)) {
                    return "an ended rollout leaves no boot directive: rollout " + r.id() + " is " + r.state()
                            + " but " + n.name() + " (" + n.state() + ") still has its directive "
                            + directive.get("reimage");
                }
            }
        }
        return null;
    }

    /**
     * abort --back: every node of the rollout that ended taken back runs its previous version (a
     * node it could not take back ends failed, and says so).
     */
    private String tookBack() throws IOException {
        for (String id : abortedBack) {
            RolloutState r;
            try {
                r = controller.status(id);
            } catch (RolloutController.Refused e) {
                continue;
            }
            if (!"aborted".equals(r.state())) {
                continue; // the abort was refused (it had ended), or it was rolled back since
            }
            world.checked("abort --back leaves its nodes on their previous version");
            for (RolloutState.NodeState n : r.nodes()) {
                SimWorld.Machine m = world.machine(n.name());
                if ("rolled-back".equals(n.state()) && !m.running.toString().equals(n.from())) {
                    return "abort --back leaves its nodes on their previous version: " + n.name() + " of " + id
                            + " is rolled back but runs " + m.running + ", not " + n.from();
                }
                if ("in-progress".equals(n.state())) {
                    return "abort --back leaves its nodes on their previous version: " + n.name() + " of " + id
                            + " is still in progress";
                }
            }
        }
        return null;
    }

    /** Each journal, read back from its bytes, folds to the state the live controller shows. */
    private String replayMatches() throws IOException {
        Path root = Journal.root(world.state());
        if (!Files.isDirectory(root) || controller == null) {
            return null;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path d : dirs.sorted().toList()) {
                if (!Files.exists(d.resolve(Journal.PLAN))) {
                    continue;
                }
                world.checked("replaying the journal gives the same state");
                Path copy = Files.createTempDirectory(dir, "replay-");
                try (Stream<Path> files = Files.list(d)) {
                    for (Path f : files.toList()) {
                        Files.copy(f, copy.resolve(f.getFileName()));
                    }
                }
                Journal back = Journal.open(copy, EngineEnv.SYSTEM);
                RolloutState live;
                try {
                    live = controller.status(d.getFileName().toString());
                } catch (RolloutController.Refused e) {
                    return "replaying the journal gives the same state: " + d.getFileName() + " unknown to kiln serve";
                }
                String replayed = back.view().phase().wire + " "
                        + live.nodes().stream()
                                .map(n -> n.name() + "="
                                        + back.view().node(n.name()).state().wire)
                                .toList();
                String shown = live.state() + " "
                        + live.nodes().stream()
                                .map(n -> n.name() + "=" + n.state())
                                .toList();
                if (!replayed.equals(shown)) {
                    return "replaying the journal gives the same state: " + d.getFileName() + " replays to " + replayed
                            + " but kiln serve shows " + shown;
                }
            }
        }
        return null;
    }

    // ---- files ---------------------------------------------------------------------------------

    /** One store of sim-node 1.0.0 and 1.1.0 for every scenario of this JVM (read-only). */
    private static Path store() throws IOException {
        if (sharedStore == null) {
            synchronized (RolloutSimulation.class) {
                if (sharedStore == null) {
                    Path d = Files.createTempDirectory("kiln-sim-store-");
                    ImageStore s = new ImageStore(d);
                    TestStore.pxeVersion(s, "sim-node", "1.0.0", 1024);
                    TestStore.pxeVersion(s, "sim-node", "1.1.0", 1024);
                    Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(d)));
                    sharedStore = d;
                }
            }
        }
        return sharedStore;
    }

    static void deleteTree(Path d) {
        if (!Files.exists(d)) {
            return;
        }
        try (Stream<Path> all = Files.walk(d)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
