package dev.kiln.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.BrokenImages;
import dev.kiln.builder.TestImages;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.rollout.etcd.EtcdGateway;
import dev.kiln.validator.Lab;
import dev.kiln.validator.Leftovers;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln rollout on kiln lab: 3 masters + 2 workers of debian-node, diskless over iPXE, behind ipmi_sim
 * and Redfish BMCs (alternating, so both drivers replace nodes), with the controller inside the
 * lab's kiln serve. One lab, three scenarios in order, so the machines boot once:
 *
 * <ol>
 *   <li>a wrong BMC password is a plan-time blocker;
 *   <li>the main rollout to the security-bumped kernel: every node ends on B's image and kernel,
 *       an etcd client outside the replaced nodes writes and reads throughout and loses nothing,
 *       the budget is never exceeded, executed order = plan order;
 *   <li>a rollout to an image whose unit fails halts on the first node, which is rolled back to B
 *       and healthy; no other node is touched.
 * </ol>
 */
@Tag("vm")
class RolloutLabTest {
    @TempDir
    Path tmp;

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
                        l -> System.out.println("lab: " + l)));
                RolloutController controller =
                        RolloutController.attach(lab.server(), new FleetDrivers(lab.server(), null))) {
            runId = lab.runId();
            KilnServer server = lab.server();
            String cluster = lab.clusterName();
            awaitAll(server, a.ref(), Duration.ofSeconds(900));

            // 1. A BMC that rejects its credential blocks the plan, whichever the driver.
            Path pass = dir.resolve("bmc.pass");
            String good = Files.readString(pass);
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
            }
            for (Inventory.Member m : server.inventory().members()) {
                NodeStatus s = server.status(m.mac());
                assertThat(s.reportedImage()).as(m.name()).isEqualTo(b.ref());
                assertThat(s.kernel()).as(m.name()).isEqualTo(b.kernel().release());
            }
            assertThat(etcd.members()).extracting(EtcdGateway.Member::name).containsExactlyInAnyOrder("m1", "m2", "m3");
            awaitHealthy(etcd);

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
        }
        assertThat(Leftovers.of(runId, tmpRoot)).isEmpty();
        assertThat(dir).doesNotExist();
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
