package dev.kiln.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.BrokenImages;
import dev.kiln.builder.TestImages;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.machines.Machine;
import dev.kiln.rollout.etcd.EtcdGateway;
import dev.kiln.validator.Lab;
import dev.kiln.validator.Leftovers;
import dev.kiln.validator.power.BmcMachines;
import dev.kiln.validator.provider.DataDisks;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln rollout on kiln lab: 3 masters + 2 workers of debian-node, diskless over iPXE with an 8G
 * virtio data disk each (debian-node keeps /var/lib/etcd and /var/lib/containerd there), behind
 * ipmi_sim and Redfish BMCs (alternating, so both drivers replace nodes), with the controller inside
 * the lab's kiln serve. One lab, the scenarios in order, so the machines boot once:
 *
 * <ol>
 *   <li>the first boot formats every blank data disk;
 *   <li>a wrong BMC password is a plan-time blocker;
 *   <li>the main rollout to the security-bumped kernel: every node ends on B's image and kernel,
 *       an etcd client outside the replaced nodes writes and reads throughout and loses nothing,
 *       the budget is never exceeded, executed order = plan order; each replaced node's disk is
 *       wiped for that rollout's reimage (and only its own), and each master rejoins etcd as a new
 *       member with the cluster's data;
 *   <li>a rollout to an image whose unit fails halts on the first node, which is rolled back to B
 *       and healthy; no other node is touched;
 *   <li>a power cut of all three masters at once (BMC off, then on): they come back as the same
 *       members with every key, their disks kept.
 * </ol>
 *
 * The refusals of ambiguous and foreign disks are NodeStorageTest's (a validation run of its own);
 * each BMC driver's power cycle and boot override against the lab's BMCs alone, IpmiSimBmcTest's and
 * RedfishServiceTest's. This lab is also what kiln lab up makes, so it stands for LabTest too.
 */
@Tag("vm")
class RolloutLabTest {
    private static final long GIB8 = 8L << 30;

    @TempDir
    Path tmp;

    /** Every node report, in order, as (MAC, status): what each boot said. */
    private final List<Map.Entry<String, NodeStatus>> seen = new CopyOnWriteArrayList<>();

    @Test
    void rollsTheLabOntoTheSecurityKernelAndHaltsAndRollsBackABrokenImage() throws Exception {
        Manifest a = TestImages.debianNode();
        Manifest b = TestImages.kernelBumped();
        Manifest c = BrokenImages.failingUnit();
        Path dir = tmp.resolve("lab");
        Path tmpRoot = Files.createDirectories(tmp.resolve("runs"));
        String runId;
        try (Lab lab = Lab.start(new Lab.Request(
                        TestImages.store(),
                        ImageRef.parse(a.ref()),
                        3,
                        2,
                        "mixed",
                        dir,
                        tmpRoot,
                        l -> System.out.println("lab: " + l),
                        false,
                        DataDisks.each(List.of(GIB8))));
                RolloutController controller =
                        RolloutController.attach(lab.server(), new FleetDrivers(lab.server(), null))) {
            runId = lab.runId();
            KilnServer server = lab.server();
            server.onStatus((mac, st) -> seen.add(Map.entry(mac, st)));
            String cluster = lab.clusterName();
            awaitAll(server, a.ref(), Duration.ofSeconds(900));
            Map<String, Inventory.Member> byName = new java.util.LinkedHashMap<>();
            server.inventory().members().forEach(m -> byName.put(m.name(), m));

            // 0. The first boot formats each blank data disk.
            for (Inventory.Member m : byName.values()) {
                assertThat(detail(awaitReady(m.mac(), 0, Duration.ofSeconds(60)), "placeholders-rendered"))
                        .as(m.name())
                        .contains("storage data: formatted /dev/vda (8.0G, serial kiln-" + m.name() + "-d0)")
                        .contains("on /var/lib/kiln-data, binds /var/lib/etcd /var/lib/containerd");
            }

            // 1. kiln lab's inventory names each BMC and where its password is, never the password;
            // a BMC that rejects its credential blocks the plan, whichever the driver.
            Path pass = dir.resolve("bmc.pass");
            String good = Files.readString(pass);
            assertThat(byName.values().stream()
                            .map(m -> m.node().bmc().driver())
                            .distinct())
                    .containsExactlyInAnyOrder("ipmi", "redfish");
            assertThat(Files.readString(dir.resolve("inventory.yaml"))).doesNotContain(good.strip());
            Files.writeString(pass, "wrong-password\n");
            Plan refused = controller.plan(request(cluster, b.ref()));
            Files.writeString(pass, good);
            assertThat(refused.blockers())
                    .anySatisfy(x -> assertThat(x).contains("ipmi BMC of").contains("power-state"))
                    .anySatisfy(x -> assertThat(x).contains("redfish BMC of").contains("power-state"));

            // 2. The security kernel, node by node.
            Plan plan = controller.plan(request(cluster, b.ref()));
            System.out.println("plan: " + plan.batches());
            assertThat(plan.blockers()).isEmpty();
            assertThat(plan.batches().stream()
                            .map(x -> x.nodes().stream().map(Plan.Node::name).toList()))
                    .containsExactly(List.of("m1"), List.of("m2"), List.of("m3"), List.of("w1", "w2"));
            List<Inventory.Member> masters = server.inventory().members().stream()
                    .filter(Inventory.Member::isMaster)
                    .toList();
            EtcdGateway etcd = new EtcdGateway(
                    masters.stream()
                            .map(m -> URI.create("http://" + m.node().address() + ":2379"))
                            .toList(),
                    Duration.ofSeconds(3));
            Map<String, String> membersBefore = memberIds(etcd);
            assertThat(membersBefore).containsOnlyKeys("m1", "m2", "m3");
            int beforeMain = seen.size();
            try (EtcdWriter writer = new EtcdWriter(etcd)) {
                RolloutState main = run(controller, server, cluster, plan, Duration.ofMinutes(25));
                // For bench/rollout.sh lab: the per-node split comes from this journal.
                Files.copy(
                        server.state()
                                .dir()
                                .resolve("rollouts")
                                .resolve(main.id())
                                .resolve("journal.jsonl"),
                        Path.of("target", "rollout-lab-journal.jsonl"),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                assertThat(main.state()).as(String.valueOf(main.reason())).isEqualTo("done");
                writer.stop();
                System.out.printf(
                        "etcd client: %d writes acknowledged during the rollout, longest stall %.1f s%n",
                        writer.acknowledged.size(), writer.longestStallMillis.get() / 1000.0);
                assertThat(writer.acknowledged).hasSizeGreaterThan(10);
                for (String key : writer.acknowledged) {
                    assertThat(etcd.get(key))
                            .as("acknowledged write %s survives", key)
                            .contains(key);
                }
                List<String> order = main.events().stream()
                        .filter(e -> e.type().equals("node-done"))
                        .map(Journal.Event::node)
                        .toList();
                assertThat(order.subList(0, 3)).containsExactly("m1", "m2", "m3");
                assertThat(order.subList(3, 5)).containsExactlyInAnyOrder("w1", "w2");
                // Each reimage wiped its own disk, for this rollout; a master's etcd member is new.
                for (Inventory.Member m : byName.values()) {
                    assertThat(detail(awaitReady(m.mac(), beforeMain, Duration.ofSeconds(60)), "placeholders-rendered"))
                            .as(m.name())
                            .contains("storage data: wiped for reimage " + main.id() + " /dev/vda (8.0G, serial kiln-"
                                    + m.name() + "-d0)");
                }
            }
            for (Inventory.Member m : server.inventory().members()) {
                NodeStatus s = server.status(m.mac());
                assertThat(s.reportedImage()).as(m.name()).isEqualTo(b.ref());
                assertThat(s.kernel()).as(m.name()).isEqualTo(b.kernel().release());
            }
            assertThat(etcd.members()).extracting(EtcdGateway.Member::name).containsExactlyInAnyOrder("m1", "m2", "m3");
            awaitHealthy(etcd);
            Map<String, String> membersAfter = memberIds(etcd);
            for (String name : membersBefore.keySet()) {
                assertThat(membersAfter.get(name))
                        .as(name + " rejoined as a new member, never under its old id with an empty data dir")
                        .isNotEqualTo(membersBefore.get(name));
            }

            // 3. A broken image halts on its first node, which goes back to B.
            RolloutState broken = run(
                    controller, server, cluster, controller.plan(request(cluster, c.ref())), Duration.ofMinutes(15));
            assertThat(broken.state()).isEqualTo("halted");
            assertThat(broken.reason()).contains("m1").contains("kiln-broken.service");
            Map<String, String> states = new java.util.HashMap<>();
            broken.nodes().forEach(n -> states.put(n.name(), n.state()));
            assertThat(states).containsEntry("m1", "rolled-back");
            for (String other : List.of("m2", "m3", "w1", "w2")) {
                assertThat(states).containsEntry(other, "pending");
            }
            for (Inventory.Member m : server.inventory().members()) {
                assertThat(server.currentImage(m.mac()).toString()).as(m.name()).isEqualTo(b.ref());
                assertThat(server.status(m.mac()).reportedImage()).as(m.name()).isEqualTo(b.ref());
                assertThat(server.status(m.mac()).step()).as(m.name()).isEqualTo("ready");
            }
            awaitHealthy(etcd);

            // 4. A power cut of every master at once: all off, then all on; no directive, no wipe.
            Map<String, String> keys = new java.util.LinkedHashMap<>();
            for (int i = 0; i < 20; i++) {
                keys.put("kiln-test/k" + i, "v" + i);
                etcd.put("kiln-test/k" + i, "v" + i);
            }
            Map<String, String> beforeCut = memberIds(etcd);
            int mark = seen.size();
            List<Machine> bmcs = new ArrayList<>();
            try {
                for (Inventory.Member m : masters) {
                    bmcs.add(BmcMachines.of(
                            m, dir.resolve("inventory.yaml"), Duration.ofSeconds(10), System.out::println));
                }
                for (Machine bmc : bmcs) {
                    bmc.powerOff();
                }
                for (Machine bmc : bmcs) {
                    assertThat(bmc.powerState()).as(bmc.name()).isEqualTo(Machine.PowerState.OFF);
                }
                for (Machine bmc : bmcs) {
                    bmc.powerOn();
                }
            } finally {
                for (Machine bmc : bmcs) {
                    bmc.close();
                }
            }
            for (Inventory.Member m : masters) {
                assertThat(detail(awaitReady(m.mac(), mark, Duration.ofSeconds(600)), "placeholders-rendered"))
                        .as(m.name() + " kept its data")
                        .contains("storage data: kept /dev/vda (8.0G, serial kiln-" + m.name() + "-d0)");
            }
            awaitHealthy(etcd);
            assertThat(memberIds(etcd)).as("the same members, none re-joined").isEqualTo(beforeCut);
            for (Inventory.Member m : masters) {
                EtcdGateway own = new EtcdGateway(
                        List.of(URI.create("http://" + m.node().address() + ":2379")), Duration.ofSeconds(3));
                for (Map.Entry<String, String> k : keys.entrySet()) {
                    assertThat(own.get(k.getKey()))
                            .as(m.name() + " has " + k.getKey() + " after the power cut")
                            .contains(k.getValue());
                }
            }
        }
        assertThat(Leftovers.of(runId, tmpRoot)).isEmpty();
        assertThat(dir).doesNotExist();
    }

    private static Map<String, String> memberIds(EtcdGateway etcd) throws Exception {
        Map<String, String> ids = new java.util.TreeMap<>();
        etcd.members().forEach(m -> ids.put(m.name(), m.id()));
        return ids;
    }

    /**
     * The reports of {@code mac}'s first boot after report {@code from} (kiln serve handing out its
     * boot script, then the agent's steps) up to "ready"; fails on "failed".
     */
    private List<NodeStatus> awaitReady(String mac, int from, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            List<NodeStatus> boot = new ArrayList<>();
            boolean booting = false;
            for (Map.Entry<String, NodeStatus> e : seen.subList(from, seen.size())) {
                if (!e.getKey().equals(mac)) {
                    continue;
                }
                if (NodeStatus.IPXE.equals(e.getValue().step())) {
                    booting = true;
                    boot.clear();
                }
                if (booting) {
                    boot.add(e.getValue());
                    if ("failed".equals(e.getValue().step())) {
                        throw new AssertionError(
                                "node " + mac + " failed: " + e.getValue().detail());
                    }
                    if ("ready".equals(e.getValue().step())) {
                        return boot;
                    }
                }
            }
            Thread.sleep(1000);
        }
        throw new AssertionError("node " + mac + " was not ready within " + timeout.toSeconds() + " s; seen " + seen);
    }

    private static String detail(List<NodeStatus> boot, String step) {
        return boot.stream()
                .filter(st -> step.equals(st.step()))
                .map(NodeStatus::detail)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no " + step + " in " + boot));
    }

    private static PlanRequest request(String cluster, String to) {
        // B and C may have no passing kiln validate in this run's store; that blocker is tested
        // in RolloutControllerTest.
        return new PlanRequest(cluster, to, "2", null, null, 600L, false, true);
    }

    /**
     * Applies the plan and samples, every 2 s until it ends, how many nodes kiln serve sees not
     * ready: never more than the budget.
     */
    private static RolloutState run(
            RolloutController controller, KilnServer server, String cluster, Plan plan, Duration timeout)
            throws Exception {
        RolloutState s = controller.apply(plan);
        Instant end = Instant.now().plus(timeout);
        int maxDown = 0;
        while (s.active() && Instant.now().isBefore(end)) {
            Thread.sleep(2000);
            int down = 0;
            for (Inventory.Member m : server.inventory().members()) {
                NodeStatus st = server.status(m.mac());
                if (st == null || !"ready".equals(st.step())) {
                    down++;
                }
            }
            maxDown = Math.max(maxDown, down);
            s = controller.status(s.id());
        }
        System.out.println("rollout " + s.id() + ": " + s.state() + " after " + s.elapsedSeconds() + " s (reason "
                + s.reason() + "), at most " + maxDown + " node(s) down at once");
        s.events().forEach(e -> System.out.println("  " + e));
        assertThat(s.active()).as("rollout still running after " + timeout).isFalse();
        assertThat(maxDown).as("nodes down at once").isLessThanOrEqualTo(plan.maxUnavailable());
        return s;
    }

    /**
     * etcd reports healthy within a minute: right after a member joins, one status call may still
     * time out or see no leader, which the rollout's own confirmation already waited out.
     */
    private static void awaitHealthy(EtcdGateway etcd) throws InterruptedException {
        EtcdGateway.Health h = etcd.health();
        for (int i = 0; i < 30 && !h.ok(); i++) {
            Thread.sleep(2000);
            h = etcd.health();
        }
        assertThat(h.ok()).as("etcd healthy: %s", h.problems()).isTrue();
    }

    private static void awaitAll(KilnServer server, String image, Duration timeout) throws InterruptedException {
        Instant end = Instant.now().plus(timeout);
        while (Instant.now().isBefore(end)) {
            boolean all = server.inventory().members().stream().allMatch(m -> {
                NodeStatus s = server.status(m.mac());
                return s != null && "ready".equals(s.step()) && image.equals(s.reportedImage());
            });
            if (all) {
                return;
            }
            Thread.sleep(2000);
        }
        throw new AssertionError("the lab's nodes were not all ready on " + image + " within " + timeout);
    }

    /** An etcd client outside the replaced nodes: writes and reads back a key every 250 ms. */
    private static final class EtcdWriter implements AutoCloseable {
        final List<String> acknowledged = new CopyOnWriteArrayList<>();
        final AtomicLong longestStallMillis = new AtomicLong();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final Thread thread;

        EtcdWriter(EtcdGateway etcd) {
            thread = new Thread(
                    () -> {
                        long last = System.currentTimeMillis();
                        for (int i = 0; !stop.get(); i++) {
                            String key = "rollout-test/" + i;
                            try {
                                etcd.put(key, key);
                                if (etcd.get(key).filter(key::equals).isPresent()) {
                                    acknowledged.add(key);
                                    long now = System.currentTimeMillis();
                                    longestStallMillis.accumulateAndGet(now - last, Math::max);
                                    last = now;
                                }
                            } catch (Exception e) {
                                // a write that fails was not acknowledged: only stalls count
                            }
                            try {
                                Thread.sleep(250);
                            } catch (InterruptedException e) {
                                return;
                            }
                        }
                    },
                    "etcd-writer");
            thread.setDaemon(true);
            thread.start();
        }

        void stop() throws InterruptedException {
            stop.set(true);
            thread.join(10_000);
        }

        @Override
        public void close() throws InterruptedException {
            stop();
        }
    }
}
