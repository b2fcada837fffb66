package dev.kiln.rollout;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.fleet.StateDir;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The simulated world a rollout runs against: machines behind BMCs that boot what kiln serve hands
 * them and report (or do not), an etcd of the masters, drains that PodDisruptionBudgets may block,
 * and kiln serve's books on its nodes (status, version handed out, directives, revocations). The
 * engine sees it through the same seams as the real world: {@link FleetState}, {@link
 * NodeReplacer}, {@link ClusterGuard}. Each act of the engine that could break an invariant is
 * checked as it happens; the first violation is kept.
 */
final class SimWorld implements FleetState, RolloutController.Drivers, NodeReplacer, ClusterGuard {
    /** One machine, and the faults drawn for it. */
    static final class Machine {
        final Inventory.Member member;
        ImageRef served;
        ImageRef running;
        boolean up = true;
        boolean etcdMember;
        NodeStatus status;
        int cycles; // power cycles so far: a boot in flight belongs to one
        String attempt; // the reimage id of the last power cycle
        boolean bootedSinceCycle = true;
        // faults
        boolean neverReturns;
        boolean wrongImage;
        boolean reportsFailed;
        boolean failsChecks;
        boolean bmcWrongPassword;
        int bmcErrors; // the next power cycles that fail
        Instant drainBlockedUntil = Instant.MIN;
        Instant etcdUnhealthyFrom = Instant.MAX;
        Instant etcdUnhealthyUntil = Instant.MIN;

        Machine(Inventory.Member member) {
            this.member = member;
            this.etcdMember = member.isMaster();
        }

        boolean master() {
            return member.isMaster();
        }

        String name() {
            return member.name();
        }

        void clearFaults() {
            neverReturns = false;
            wrongImage = false;
            reportsFailed = false;
            failsChecks = false;
            bmcWrongPassword = false;
            bmcErrors = 0;
        }
    }

    private final SimEnv env;
    private final Random random;
    private final Inventory inventory;
    private final ImageStore store;
    private final StateDir state;
    private final Map<String, Machine> byMac = new LinkedHashMap<>();
    private final Map<String, Map<String, String>> directives = new HashMap<>();
    private final Map<ImageRef, String> revoked = new HashMap<>();
    private final Map<String, Integer> checks = new LinkedHashMap<>();
    private String budget = "1";
    private int maxUnavailable = 1;
    private String violation;

    SimWorld(SimEnv env, Random random, Inventory inventory, ImageStore store, StateDir state) {
        this.env = env;
        this.random = random;
        this.inventory = inventory;
        this.store = store;
        this.state = state;
        for (Inventory.Member m : inventory.members()) {
            Machine machine = new Machine(m);
            machine.served = m.image();
            machine.running = m.image();
            machine.status = report("ready", m.image(), null);
            byMac.put(m.mac(), machine);
        }
    }

    List<Machine> machines() {
        return List.copyOf(byMac.values());
    }

    Machine machine(String name) {
        return byMac.values().stream()
                .filter(m -> m.name().equals(name))
                .findFirst()
                .orElseThrow();
    }

    /** The budget the scenario's rollouts run under, for the budget invariant. */
    void budget(String asked, int resolved) {
        this.budget = asked;
        this.maxUnavailable = resolved;
    }

    void revoke(ImageRef image, String why) {
        revoked.put(image, why);
    }

    /** The first invariant broken, or null. */
    String violation() {
        return violation;
    }

    /** How often each invariant was checked. */
    Map<String, Integer> checks() {
        return checks;
    }

    void violated(String invariant, String what) {
        checked(invariant);
        if (violation == null) {
            violation = invariant + ": " + what + " (at " + env.now() + ")";
        }
    }

    void checked(String invariant) {
        checks.merge(invariant, 1, Integer::sum);
    }

    /** A machine goes down on its own (not through the rollout) and comes back after {@code for}. */
    void crash(Machine m, Duration down) {
        m.up = false;
        m.status = report("failed", m.running, "crashed");
        int cycle = m.cycles;
        env.startWorld("recover-" + m.name(), () -> {
            try {
                env.sleep(down);
            } catch (InterruptedException e) {
                return;
            }
            if (m.cycles == cycle && !m.up) {
                m.up = true;
                m.status = report("ready", m.running, null);
            }
        });
    }

    private NodeStatus report(String step, ImageRef image, String detail) {
        Map<String, Object> img = image == null ? null : Map.of("name", image.name(), "version", image.version());
        return new NodeStatus(
                step, detail, null, img, kernel(image), null, env.now().toString(), null);
    }

    private final Map<ImageRef, String> kernels = new HashMap<>();

    /** The kernel release a node booted on {@code image} reports: its manifest's. */
    private String kernel(ImageRef image) {
        if (image == null) {
            return null;
        }
        return kernels.computeIfAbsent(image, i -> {
            try {
                Manifest m = store.manifest(i);
                return m.kernel() == null ? null : m.kernel().release();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    // ---- FleetState: kiln serve's books -----------------------------------------------------

    @Override
    public Inventory inventory() {
        return inventory;
    }

    @Override
    public NodeStatus status(String mac) {
        Machine m = byMac.get(mac);
        return m == null ? null : m.status;
    }

    @Override
    public boolean hasBooted(String mac) {
        return byMac.containsKey(mac);
    }

    @Override
    public ImageRef currentImage(String mac) {
        Machine m = byMac.get(mac);
        return m == null ? null : m.served;
    }

    @Override
    public ImageRef desiredImage(String mac) {
        return currentImage(mac);
    }

    @Override
    public void repoint(String mac, ImageRef image, String rolloutId) {
        checked("revoked version never handed out");
        String why = revoked.get(image);
        if (why != null) {
            violated(
                    "revoked version never handed out",
                    "rollout " + rolloutId + " re-pointed " + byMac.get(mac).name() + " to " + image
                            + ", revoked before (" + why + ")");
        }
        byMac.get(mac).served = image;
    }

    @Override
    public void direct(String mac, Map<String, String> metadata) {
        directives.put(mac, Map.copyOf(metadata));
    }

    @Override
    public void clearDirective(String mac) {
        directives.remove(mac);
    }

    @Override
    public Map<String, String> directive(String mac) {
        return directives.getOrDefault(mac, Map.of());
    }

    @Override
    public Double lastBootSeconds(String mac) {
        return null;
    }

    @Override
    public String revoked(ImageRef image) {
        return revoked.get(image);
    }

    @Override
    public ImageStore store() {
        return store;
    }

    @Override
    public ImageSource images() {
        return ImageSource.local(store);
    }

    @Override
    public StateDir state() {
        return state;
    }

    // ---- Drivers ----------------------------------------------------------------------------

    @Override
    public NodeReplacer replacer(String cluster, String rolloutId) {
        return this;
    }

    @Override
    public ClusterGuard guard(String cluster, Manifest target) {
        return this;
    }

    // ---- NodeReplacer: BMCs and machines ------------------------------------------------------

    @Override
    public String blocker(Node node) {
        Machine m = byMac.get(node.mac());
        return m.bmcWrongPassword ? "the BMC of " + m.name() + " refused the credential (wrong password)" : null;
    }

    @Override
    public String replace(Node node) throws IOException, InterruptedException {
        Machine m = byMac.get(node.mac());
        env.sleep(Duration.ofMillis(200 + random.nextInt(3000))); // the BMC's answer
        if (m.bmcWrongPassword) {
            throw new IOException("ipmitool: " + m.name() + ": unable to establish session: wrong password");
        }
        if (m.bmcErrors > 0) {
            m.bmcErrors--;
            throw new IOException("ipmitool: " + m.name() + ": BMC did not answer within 30 s");
        }
        String attempt = directive(node.mac()).get("reimage");
        checked("no node power-cycled twice in one attempt");
        if (attempt != null && attempt.equals(m.attempt) && m.bootedSinceCycle && !m.neverReturns) {
            violated(
                    "no node power-cycled twice in one attempt",
                    m.name() + " power-cycled again in attempt " + attempt + " after it booted from the first cycle");
        }
        checkBudget(m);
        m.attempt = attempt;
        m.bootedSinceCycle = false;
        m.up = false;
        m.etcdMember = false;
        int cycle = ++m.cycles;
        env.startWorld("boot-" + m.name(), () -> boot(m, cycle));
        return "power cycled " + m.name() + " (simulated BMC)";
    }

    private void checkBudget(Machine going) {
        String cluster = going.member.cluster().name();
        int down = 0;
        int mastersDown = 0;
        for (Machine m : byMac.values()) {
            if (m == going || !m.member.cluster().name().equals(cluster)) {
                continue;
            }
            if (!m.up) {
                down++;
                if (m.master()) {
                    mastersDown++;
                }
            }
        }
        checked("never more nodes down than the budget");
        int after = down + (going.up ? 1 : 0);
        if (going.up && after > maxUnavailable) {
            violated(
                    "never more nodes down than the budget",
                    "power cycle of " + going.name() + " makes " + after + " node(s) down, budget " + budget + " = "
                            + maxUnavailable);
        }
        if (going.master()) {
            checked("never two masters down");
            if (going.up && mastersDown > 0) {
                violated(
                        "never two masters down",
                        "power cycle of " + going.name() + " with " + mastersDown + " other master(s) down");
            }
        }
    }

    private void boot(Machine m, int cycle) {
        try {
            env.sleep(Duration.ofSeconds(20 + random.nextInt(70)));
            if (m.cycles != cycle) {
                return; // cycled again meanwhile
            }
            ImageRef image = m.served;
            if (revoked.containsKey(image)) {
                m.status = report("failed", m.running, "kiln serve refused the boot: " + image + " is revoked");
                return;
            }
            if (m.neverReturns) {
                return;
            }
            m.bootedSinceCycle = true;
            m.status = report("booted", null, null);
            env.sleep(Duration.ofSeconds(5 + random.nextInt(40)));
            if (m.cycles != cycle) {
                return;
            }
            ImageRef reported = m.wrongImage ? m.running : image;
            if (m.reportsFailed) {
                m.status = report("failed", reported, "kubeadm join: context deadline exceeded");
                return;
            }
            String asked = directive(m.member.mac()).get("kilnChecks");
            m.running = reported;
            m.up = true;
            m.etcdMember = m.master();
            m.status = report("ready", reported, null);
            if (asked != null) {
                env.sleep(Duration.ofSeconds(1 + random.nextInt(10)));
                if (m.cycles == cycle) {
                    NodeStatus s = m.status;
                    m.status = new NodeStatus(
                            s.step(),
                            s.detail(),
                            s.phase(),
                            s.image(),
                            s.kernel(),
                            results(asked, m.failsChecks),
                            s.receivedAt(),
                            s.from());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** What the node's agent reports for the checks it was asked to run. */
    private static List<Map<String, Object>> results(String asked, boolean fail) {
        List<Map<String, Object>> out = new ArrayList<>();
        try {
            for (com.fasterxml.jackson.databind.JsonNode c :
                    dev.kiln.core.json.Json.MAPPER.readTree(asked).path("node")) {
                boolean bad = fail && out.isEmpty();
                out.add(Map.of(
                        "check",
                        c.path("check").asText(),
                        "scope",
                        "node",
                        "status",
                        bad ? "fail" : "pass",
                        "detail",
                        bad ? "simulated failure" : "simulated"));
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out;
    }

    // ---- ClusterGuard: etcd and drains ------------------------------------------------------

    private boolean etcdHealthy(Machine m) {
        Instant now = env.now();
        boolean sick = !now.isBefore(m.etcdUnhealthyFrom) && now.isBefore(m.etcdUnhealthyUntil);
        return m.up && m.etcdMember && !sick;
    }

    @Override
    public List<String> blockers(List<Plan.Node> nodes) {
        List<String> out = new ArrayList<>();
        for (Machine m : byMac.values()) {
            if (m.master() && !etcdHealthy(m)) {
                out.add("etcd member " + m.name() + " is not healthy");
            }
        }
        return out;
    }

    @Override
    public String preflight(Plan.Node node) {
        Machine going = byMac.get(node.mac());
        if (!going.master()) {
            return null;
        }
        for (Machine m : byMac.values()) {
            if (m != going && m.master() && !etcdHealthy(m)) {
                return "etcd member " + m.name() + " is not healthy: taking " + going.name() + " out would risk quorum";
            }
        }
        return null;
    }

    @Override
    public String drain(Plan.Node node, Duration timeout, boolean force) throws InterruptedException, DrainBlocked {
        Machine m = byMac.get(node.mac());
        env.sleep(Duration.ofSeconds(1 + random.nextInt(8)));
        Instant giveUp = env.now().plus(timeout);
        if (!force && m.drainBlockedUntil.isAfter(env.now())) {
            if (m.drainBlockedUntil.isAfter(giveUp)) {
                env.sleep(timeout);
                throw new DrainBlocked("eviction of " + m.name() + "'s pods refused by a PodDisruptionBudget");
            }
            env.sleep(Duration.between(env.now(), m.drainBlockedUntil));
        }
        if (m.master()) {
            m.etcdMember = false;
        }
        return "drained " + m.name();
    }

    @Override
    public String rejoined(Plan.Node node) {
        Machine m = byMac.get(node.mac());
        return !m.master() || m.etcdMember ? null : m.name() + " is not an etcd member yet";
    }
}
