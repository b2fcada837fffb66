package dev.kiln.rollout;

import dev.kiln.core.json.Json;
import dev.kiln.fleet.StateDir;
import dev.kiln.rollout.JournalView.EventType;
import dev.kiln.rollout.ec2.AsgPool;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rollout of an Auto Scaling worker pool ({@link PoolPlan}), journaled like a node rollout: a
 * new launch template version with only the AMI changed, set on the group, the instances not yet
 * replaced protected from scale-in, then batch after batch terminated without lowering the desired
 * capacity and their replacements awaited InService on the target AMI, and the protection lifted.
 * A failure sets the previous template version again and replaces what the failed batch launched;
 * kiln rollout rollback does that for every instance on the new AMI.
 *
 * <p>Pool instances have no node entry in kiln serve (they are launched from the template's user
 * data), so a replacement is confirmed by the group (InService) and EC2 (running the target AMI),
 * not by the agent's phone-home. A pool rollout found running when kiln serve starts is halted,
 * not resumed: the journal says which batch was under way, and a new plan starts from the group as
 * it is.
 */
final class AsgRollout {
    private static final Logger LOG = LoggerFactory.getLogger(AsgRollout.class);
    static final String PLAN = "pool-plan.json";

    private final RolloutController controller;
    private final Journal journal;
    private final PoolPlan plan;
    private volatile String currentStep;
    private volatile Thread thread;

    private AsgRollout(RolloutController controller, Journal journal, PoolPlan plan) {
        this.controller = controller;
        this.journal = journal;
        this.plan = plan;
    }

    static AsgRollout create(RolloutController controller, StateDir state, String id, PoolPlan plan)
            throws IOException {
        Path dir = Journal.root(state).resolve(id);
        Files.createDirectories(dir.getParent());
        Files.createDirectory(dir);
        Path tmp = dir.resolve("." + PLAN + ".tmp");
        Files.write(tmp, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(plan));
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            c.force(true);
        }
        Files.move(tmp, dir.resolve(PLAN), StandardCopyOption.ATOMIC_MOVE);
        AsgRollout r = new AsgRollout(controller, Journal.open(dir, controller.env()), plan);
        r.journal.append(
                EventType.CREATED,
                null,
                null,
                "pool " + plan.pool() + " (group " + plan.group() + ") to " + plan.target() + " (" + plan.toAmi()
                        + "), " + plan.strategy() + ", max unavailable " + plan.maxUnavailable());
        return r;
    }

    static AsgRollout load(RolloutController controller, Path dir) throws IOException {
        PoolPlan plan = Json.MAPPER.readValue(dir.resolve(PLAN).toFile(), PoolPlan.class);
        return new AsgRollout(controller, Journal.open(dir, controller.env()), plan);
    }

    /**
     * A pool plan from the group as it is now: its template version and AMI, and the instances not
     * on the target AMI in batches of the budget. Read-only.
     */
    static PoolPlan plan(RolloutController controller, PoolPlanRequest req) throws IOException {
        dev.kiln.fleet.Inventory.Aws aws = controller.server().inventory().members().stream()
                .filter(m -> m.cluster().name().equals(req.cluster()))
                .map(m -> m.cluster().aws())
                .filter(java.util.Objects::nonNull)
                .findFirst()
                .orElse(null);
        if (aws == null) {
            throw new IllegalArgumentException("--cluster: cluster '" + req.cluster() + "' has no aws: entry in the"
                    + " inventory; only EC2 clusters have pools");
        }
        dev.kiln.fleet.Inventory.Pool p = aws.pool(req.pool());
        if (p == null) {
            throw new IllegalArgumentException("--pool: cluster " + req.cluster() + " has no pool '" + req.pool()
                    + "' (its aws.pools: "
                    + (aws.pools() == null || aws.pools().isEmpty()
                            ? "none"
                            : String.join(
                                    ", ",
                                    aws.pools().stream()
                                            .map(dev.kiln.fleet.Inventory.Pool::name)
                                            .toList()))
                    + ")");
        }
        dev.kiln.core.store.ImageRef to;
        try {
            to = dev.kiln.core.store.ImageRef.parse(req.to());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--to: expected NAME:VERSION for a pool, got '" + req.to() + "'");
        }
        List<String> blockers = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        try {
            controller.manifest(to);
        } catch (IOException e) {
            blockers.add("target " + to + " is not in kiln serve's store");
        }
        String toAmi = null;
        try {
            toAmi = controller.drivers().artifact(req.cluster(), to);
        } catch (IOException e) {
            blockers.add(e.getMessage());
        }
        AsgPool.TemplateVersion current = null;
        List<AsgPool.Instance> instances = List.of();
        try {
            AsgPool pool = controller.drivers().pool(req.cluster(), req.pool());
            current = pool.current();
            instances = pool.instances();
        } catch (IOException e) {
            blockers.add(e.getMessage());
        }
        int budget = Budget.of(req.maxUnavailable(), Math.max(1, instances.size()));
        List<String> todo = new ArrayList<>();
        for (AsgPool.Instance i : instances) {
            if (toAmi != null && toAmi.equals(i.imageId())) {
                continue;
            }
            todo.add(i.instanceId());
        }
        if (toAmi != null && instances.size() > todo.size()) {
            notes.add((instances.size() - todo.size()) + " instance(s) already run " + toAmi);
        }
        if (current != null && toAmi != null && toAmi.equals(current.imageId())) {
            notes.add("the group's launch template version " + current.version() + " already has " + toAmi);
        }
        List<List<String>> batches = new ArrayList<>();
        for (int i = 0; i < todo.size(); i += budget) {
            batches.add(List.copyOf(todo.subList(i, Math.min(todo.size(), i + budget))));
        }
        notes.add("pool instances have no node entry in kiln serve: a replacement is confirmed by the group"
                + " (InService) and EC2 (running " + (toAmi == null ? "the target AMI" : toAmi) + "), not by the"
                + " agent's phone-home");
        return new PoolPlan(
                PoolPlan.SCHEMA,
                req.cluster(),
                req.pool(),
                p.autoScalingGroup(),
                aws.region(),
                req.strategy(),
                to.toString(),
                current == null ? null : current.templateId(),
                current == null ? 0 : current.version(),
                current == null ? null : current.imageId(),
                toAmi,
                budget,
                req.maxUnavailable(),
                req.timeoutSeconds(),
                batches,
                blockers,
                notes,
                controller.env().now().toString());
    }

    /** Why {@code plan} no longer matches the group (another template version, other instances), or null. */
    static String stale(RolloutController controller, PoolPlan plan) throws IOException {
        AsgPool pool = controller.drivers().pool(plan.cluster(), plan.pool());
        AsgPool.TemplateVersion now = pool.current();
        if (now.version() != plan.fromTemplateVersion() || !now.templateId().equals(plan.templateId())) {
            return "the group launches from template " + now.templateId() + " version " + now.version()
                    + " now, not version " + plan.fromTemplateVersion() + " as planned";
        }
        Set<String> there = new HashSet<>();
        pool.instances().forEach(i -> there.add(i.instanceId()));
        List<String> gone =
                plan.instances().stream().filter(i -> !there.contains(i)).toList();
        return gone.isEmpty() ? null : "instance(s) " + gone + " left the group since the plan";
    }

    String id() {
        return journal.id();
    }

    PoolPlan plan() {
        return plan;
    }

    boolean active() {
        return journal.view().phase() == JournalView.Phase.RUNNING;
    }

    // ---- state ----------------------------------------------------------------------------------

    RolloutState state() {
        List<RolloutState.NodeState> nodes = new ArrayList<>();
        // Each instance from the journal's fold: one lookup, not a scan of every event.
        for (int b = 0; b < plan.batches().size(); b++) {
            for (String id : plan.batches().get(b)) {
                JournalView.Node n = journal.view().node(id);
                nodes.add(new RolloutState.NodeState(
                        id, "worker", b + 1, plan.fromAmi(), plan.target(), n.state().wire, n.step(), n.detail()));
            }
        }
        List<Journal.Event> events = journal.events();
        String started = events.isEmpty() ? plan.createdAt() : events.get(0).at();
        String ended = active() || events.isEmpty()
                ? null
                : events.get(events.size() - 1).at();
        Instant end = ended == null ? controller.env().now() : Instant.parse(ended);
        return new RolloutState(
                id(),
                plan.cluster(),
                plan.target() + " (pool " + plan.pool() + ")",
                journal.view().phase().wire,
                journal.view().reason(),
                currentStep,
                started,
                ended,
                0,
                Math.max(0, Duration.between(Instant.parse(started), end).getSeconds()),
                plan.maxUnavailable(),
                null,
                nodes,
                events,
                events.size());
    }

    // ---- running ---------------------------------------------------------------------------------

    synchronized void start(Runnable body) {
        thread = new Thread(body, "kiln-pool-rollout-" + id());
        thread.setDaemon(true);
        thread.start();
    }

    void start() {
        start(this::run);
    }

    void stopThread() {
        Thread t = thread;
        if (t != null) {
            t.interrupt();
        }
    }

    /** kiln serve started and found this rollout running: halted, not resumed (class comment). */
    /**
     * kiln serve found this rollout running when it started: it goes on. Every step checks the group
     * before it acts (the template version made before is found, not made again; instances already
     * on the new AMI are not replaced again), and the group is confirmed whole at the end, which
     * also confirms what a batch cut short had launched. An instance refresh is AWS's to finish, and
     * kiln does not yet pick up its id after a restart: that one still halts.
     */
    void restarted() throws IOException {
        if (!active()) {
            return;
        }
        if ("instance-refresh".equals(plan.strategy())) {
            halt("kiln serve restarted during the instance refresh; AWS goes on with it (see the group's"
                    + " instance refreshes), but kiln does not follow it after a restart; check the group, then"
                    + " make a new plan (kiln rollout plan --pool " + plan.pool() + "), or kiln rollout rollback "
                    + id());
            return;
        }
        journal.append(EventType.RESTARTED, null, null, "kiln serve restarted; going on from what the group runs now");
        LOG.info("pool rollout {} was running when kiln serve stopped; going on", id());
        start();
    }

    private AsgPool pool() throws IOException {
        return controller
                .drivers()
                .pool(plan.cluster(), plan.pool())
                .polling(controller.poll(), Duration.ofSeconds(plan.timeoutSeconds()));
    }

    private AsgPool.TemplateVersion previous() {
        return new AsgPool.TemplateVersion(plan.templateId(), null, plan.fromTemplateVersion(), plan.fromAmi());
    }

    private interface Step {
        String run() throws IOException, InterruptedException;
    }

    private String step(String name, String node, Step s) throws IOException, InterruptedException {
        journal.append(EventType.BEGIN, node, name, null);
        currentStep = name + (node == null ? "" : " " + node);
        String detail = s.run();
        journal.append(EventType.END, node, name, detail);
        return detail;
    }

    private void run() {
        Set<String> launched = new LinkedHashSet<>();
        Set<String> confirmed = new HashSet<>();
        List<String> inFlight = new ArrayList<>();
        try {
            AsgPool pool = pool();
            AsgPool.TemplateVersion[] v = new AsgPool.TemplateVersion[1];
            step("template", null, () -> {
                // After a restart the version may be there already: made once, not twice.
                AsgPool.TemplateVersion made = pool.versionMadeFrom(plan.fromTemplateVersion(), plan.toAmi());
                v[0] = made != null ? made : pool.newVersionWithAmi(plan.toAmi());
                return "launch template " + v[0].templateName() + " version " + v[0].version() + ": version "
                        + plan.fromTemplateVersion() + " with only the AMI changed to " + plan.toAmi()
                        + (made != null ? " (made before kiln serve restarted)" : "");
            });
            if ("instance-refresh".equals(plan.strategy())) {
                refresh(pool, v[0]);
                return;
            }
            step("set-version", null, () -> {
                pool.setVersion(v[0]);
                return "group " + plan.group() + " launches from version " + v[0].version();
            });
            step("protect", null, () -> {
                List<String> there = stillOnOld(pool, plan.instances());
                pool.protectFromScaleIn(there, true);
                return there.size() + " instance(s) not yet replaced protected from scale-in";
            });
            for (List<String> batch : plan.batches()) {
                List<String> ids = stillOnOld(pool, batch);
                for (String id : batch) {
                    JournalView.Node n = journal.view().node(id);
                    if (ids.contains(id) || n.state() == JournalView.NodeState.DONE) {
                        continue;
                    }
                    if (n.begun().containsKey("replace")) {
                        // Terminated by this rollout before kiln serve restarted: the group launched
                        // its replacement, which the group's confirmation below waits for.
                        journal.append(
                                EventType.NODE_DONE,
                                id,
                                null,
                                "terminated before kiln serve restarted; its replacement is confirmed with the"
                                        + " group");
                    } else {
                        journal.append(EventType.NODE_SKIPPED, id, null, "no longer in the group on " + plan.fromAmi());
                    }
                }
                if (ids.isEmpty()) {
                    continue;
                }
                inFlight.clear();
                inFlight.addAll(ids);
                for (String id : ids) {
                    journal.append(EventType.BEGIN, id, "replace", "terminate without lowering the desired capacity");
                }
                currentStep = "replace " + ids;
                List<AsgPool.Instance> fresh = pool.replace(ids);
                List<String> freshIds =
                        fresh.stream().map(AsgPool.Instance::instanceId).toList();
                launched.addAll(freshIds);
                for (String id : ids) {
                    journal.append(EventType.END, id, "replace", "terminated; the group launched " + freshIds);
                    journal.append(EventType.BEGIN, id, "confirm", "InService on " + plan.toAmi());
                }
                currentStep = "confirm " + freshIds;
                pool.awaitInService(freshIds);
                for (AsgPool.Instance i : pool.instances()) {
                    if (freshIds.contains(i.instanceId()) && !plan.toAmi().equals(i.imageId())) {
                        throw new IOException("instance " + i.instanceId() + " came up from " + i.imageId() + ", not "
                                + plan.toAmi() + " (did the group's launch template change meanwhile?)");
                    }
                }
                confirmed.addAll(freshIds);
                for (String id : ids) {
                    journal.append(
                            EventType.END, id, "confirm", "replaced by " + freshIds + ", InService on " + plan.toAmi());
                    journal.append(EventType.NODE_DONE, id, null, "replaced by " + freshIds);
                }
                inFlight.clear();
            }
            // Done means every instance of the group runs the new AMI and is InService, not only the
            // ones this run saw through (a batch cut short by a restart launched some unseen).
            step("confirm-group", null, () -> {
                int n = pool.awaitAllOn(plan.toAmi());
                return "all " + n + " instance(s) of group " + plan.group() + " InService on " + plan.toAmi();
            });
            step("unprotect", null, () -> unprotect(pool));
            synchronized (this) {
                journal.append(EventType.DONE, null, null, plan.instances().size() + " instance(s) replaced");
                currentStep = null;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            LOG.error("pool rollout {} failed: {}", id(), why);
            try {
                for (String id : inFlight) {
                    journal.append(EventType.NODE_FAILED, id, null, why);
                }
                List<String> unconfirmed =
                        launched.stream().filter(i -> !confirmed.contains(i)).toList();
                String back = takeBack(unconfirmed);
                halt(why + "; " + back);
            } catch (IOException | RuntimeException io) {
                LOG.error("pool rollout {}: cannot roll back: {}", id(), io.toString());
                try {
                    halt(why + "; the rollback failed too: " + io.getMessage());
                } catch (IOException ignored) {
                    LOG.error("pool rollout {}: cannot journal the halt", id());
                }
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** After a failure: the previous template version, and the failed batch's launches replaced. */
    private String takeBack(List<String> unconfirmed) throws IOException, InterruptedException {
        AsgPool pool = pool();
        step("rollback", null, () -> {
            pool.rollback(previous());
            return "group " + plan.group() + " launches from version " + plan.fromTemplateVersion() + " ("
                    + plan.fromAmi() + ") again";
        });
        List<String> there = new ArrayList<>();
        for (AsgPool.Instance i : pool.instances()) {
            if (unconfirmed.contains(i.instanceId())) {
                there.add(i.instanceId());
            }
        }
        if (!there.isEmpty()) {
            step("rollback-replace", null, () -> {
                List<AsgPool.Instance> fresh = pool.replace(there);
                List<String> ids =
                        fresh.stream().map(AsgPool.Instance::instanceId).toList();
                pool.awaitInService(ids);
                return there + " (launched by the failed batch) replaced by " + ids + " on " + plan.fromAmi();
            });
        }
        step("unprotect", null, () -> unprotect(pool));
        return "rolled back: the group launches from template version " + plan.fromTemplateVersion() + " again"
                + (there.isEmpty() ? "" : ", the failed batch's instances replaced");
    }

    /** kiln rollout rollback: the previous template version, every instance on the new AMI replaced. */
    synchronized RolloutState rollback() throws IOException, RolloutController.Refused {
        if (active()) {
            throw new RolloutController.Refused(409, "pool rollout " + id() + " is running; wait for it to end");
        }
        if (journal.view().phase() == JournalView.Phase.ROLLED_BACK) {
            throw new RolloutController.Refused(409, "pool rollout " + id() + " is rolled back already");
        }
        journal.append(EventType.ROLLBACK, null, null, "kiln rollout rollback " + id());
        start(() -> {
            try {
                AsgPool pool = pool();
                step("rollback", null, () -> {
                    pool.rollback(previous());
                    return "group " + plan.group() + " launches from version " + plan.fromTemplateVersion() + " ("
                            + plan.fromAmi() + ") again";
                });
                List<String> onNew = new ArrayList<>();
                for (AsgPool.Instance i : pool.instances()) {
                    if (plan.toAmi().equals(i.imageId())) {
                        onNew.add(i.instanceId());
                    }
                }
                for (int at = 0; at < onNew.size(); at += plan.maxUnavailable()) {
                    List<String> batch = onNew.subList(at, Math.min(onNew.size(), at + plan.maxUnavailable()));
                    step("rollback-replace", null, () -> {
                        List<String> ids = pool.replace(batch).stream()
                                .map(AsgPool.Instance::instanceId)
                                .toList();
                        pool.awaitInService(ids);
                        return batch + " replaced by " + ids + " on " + plan.fromAmi();
                    });
                }
                synchronized (this) {
                    journal.append(
                            EventType.ROLLED_BACK, null, null, onNew.size() + " instance(s) back on " + plan.fromAmi());
                    currentStep = null;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException | RuntimeException e) {
                try {
                    halt("the rollback failed: " + e.getMessage());
                } catch (IOException io) {
                    LOG.error("pool rollout {}: cannot journal the halt", id());
                }
            }
        });
        return state();
    }

    /** --strategy instance-refresh: AWS replaces the instances; kiln starts it and follows it. */
    private void refresh(AsgPool pool, AsgPool.TemplateVersion v) throws IOException, InterruptedException {
        int size = Math.max(1, plan.instances().size());
        int percent = Math.min(100, (int) Math.ceil(plan.maxUnavailable() * 100.0 / size));
        String[] refreshId = new String[1];
        step("instance-refresh", null, () -> {
            refreshId[0] = pool.startInstanceRefresh(pool.instanceRefreshRequest(percent, v, null));
            return "instance refresh " + refreshId[0] + " to template version " + v.version() + ", at least "
                    + (100 - percent) + "% healthy, rolling itself back on failure";
        });
        Instant deadline = controller
                .env()
                .now()
                .plusSeconds(plan.timeoutSeconds() * Math.max(1, plan.batches().size()));
        AsgPool.RefreshState last = null;
        while (true) {
            AsgPool.RefreshState s = pool.refreshState(refreshId[0]);
            if (s != last) {
                journal.append(
                        EventType.MILESTONE, null, "instance-refresh", s.name().toLowerCase());
                last = s;
            }
            if (s == AsgPool.RefreshState.DONE) {
                synchronized (this) {
                    journal.append(EventType.DONE, null, null, "instance refresh " + refreshId[0] + " successful");
                }
                return;
            }
            if (s != AsgPool.RefreshState.RUNNING && s != AsgPool.RefreshState.ROLLING_BACK) {
                halt("instance refresh " + refreshId[0] + " ended " + s.name().toLowerCase());
                return;
            }
            if (controller.env().now().isAfter(deadline)) {
                halt("instance refresh " + refreshId[0] + " still " + s.name().toLowerCase() + " after "
                        + Duration.between(
                                        Instant.parse(journal.events().get(0).at()),
                                        controller.env().now())
                                .getSeconds()
                        + " s; it goes on in AWS (aws autoscaling describe-instance-refreshes)");
                return;
            }
            controller.env().sleep(controller.poll());
        }
    }

    private List<String> stillOnOld(AsgPool pool, List<String> ids) throws IOException {
        List<String> out = new ArrayList<>();
        for (AsgPool.Instance i : pool.instances()) {
            if (ids.contains(i.instanceId()) && !plan.toAmi().equals(i.imageId())) {
                out.add(i.instanceId());
            }
        }
        return out;
    }

    private String unprotect(AsgPool pool) throws IOException {
        List<String> still = new ArrayList<>();
        for (AsgPool.Instance i : pool.instances()) {
            if (i.protectedFromScaleIn() && plan.instances().contains(i.instanceId())) {
                still.add(i.instanceId());
            }
        }
        pool.protectFromScaleIn(still, false);
        return still.isEmpty()
                ? "no instance of the plan left protected"
                : "scale-in protection lifted from " + still + " (kiln had set it)";
    }

    private synchronized void halt(String why) throws IOException {
        journal.append(EventType.HALTED, null, null, why);
        currentStep = null;
        LOG.error("pool rollout {} HALTED: {}", id(), why);
    }
}
