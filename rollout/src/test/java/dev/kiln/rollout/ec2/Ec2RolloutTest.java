package dev.kiln.rollout.ec2;

import static dev.kiln.rollout.ec2.Ec2Fleet.A;
import static dev.kiln.rollout.ec2.Ec2Fleet.ADDRESSES;
import static dev.kiln.rollout.ec2.Ec2Fleet.B;
import static dev.kiln.rollout.ec2.Ec2Fleet.CLUSTER;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.rollout.FleetDrivers;
import dev.kiln.rollout.Journal;
import dev.kiln.rollout.Plan;
import dev.kiln.rollout.PlanRequest;
import dev.kiln.rollout.RolloutController;
import dev.kiln.rollout.RolloutState;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.ec2.model.Instance;

/**
 * The rollout controller inside a real kiln serve over an EC2 cluster in moto: 3 masters and 2
 * workers of an {@code aws:} inventory entry, replaced through {@link FleetDrivers} with AMIs
 * resolved from published.json. moto launches nothing, so the node agent is played by {@link
 * AgentStandIn}, which reports what the instance's own tags and user data say. The versions have
 * no etcd component, so the cluster guard is NONE: etcd safety is not exercised here (EtcdGuard has
 * its own tests against a real etcd).
 */
@Tag("aws")
class Ec2RolloutTest {
    static final List<String> STEPS = List.of("preflight", "drain", "repoint", "power", "confirm");

    @TempDir
    Path dir;

    Ec2Fleet fleet;
    KilnServer server;
    FleetDrivers drivers;
    RolloutController controller;
    AgentStandIn agent;
    int port;

    @BeforeEach
    void setUp() throws Exception {
        fleet = Ec2Fleet.prepare(dir, null);
        // One port across a restart: the instances' user data names kiln serve's URL.
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        start();
        agent = fleet.agent(Duration.ofMillis(1500)).start();
    }

    void start() throws Exception {
        server = KilnServer.start(new KilnServer.Options(
                fleet.inventory, fleet.store, "127.0.0.1", port, null, dir.resolve("state"), 100));
        drivers = new FleetDrivers(server, null, fleet.settings());
        controller = RolloutController.attach(server, drivers);
    }

    void stop() {
        if (controller != null) {
            controller.close();
        }
        if (drivers != null) {
            drivers.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        if (agent != null) {
            agent.close();
        }
        stop();
        fleet.close();
    }

    PlanRequest to(String target, long nodeTimeout) {
        return new PlanRequest(CLUSTER, target, "1", null, null, nodeTimeout, false, true);
    }

    /** Plan and apply from nothing: every node launched on A. */
    RolloutState bringUp() throws Exception {
        Plan up = controller.plan(to(null, 60));
        assertThat(up.blockers()).isEmpty();
        assertThat(up.batches()).as("bring-up from nothing: one batch").hasSize(1);
        assertThat(up.nodes())
                .hasSize(5)
                .allSatisfy(n -> assertThat(n.artifact()).isEqualTo(fleet.amiOf(A)));
        RolloutState done = awaitEnd(controller.apply(up).id());
        assertThat(done.state()).as(done.reason()).isEqualTo("done");
        return done;
    }

    @Test
    void bringsTheClusterUpThenRollsItToBWithinTheBudgetAtTheSameAddresses() throws Exception {
        RolloutState up = bringUp();
        // All five launched together: each began its power step before any was confirmed.
        long firstDone = up.events().stream()
                .filter(e -> e.type().equals("node-done"))
                .mapToLong(Journal.Event::seq)
                .min()
                .orElseThrow();
        assertThat(up.events().stream()
                        .filter(e -> e.type().equals("begin") && "power".equals(e.step()) && e.seq() < firstDone)
                        .map(Journal.Event::node))
                .containsExactlyInAnyOrderElementsOf(ADDRESSES.keySet());
        Map<String, String> firstInstance = new HashMap<>();
        for (String node : ADDRESSES.keySet()) {
            Instance i = single(node);
            assertThat(i.imageId()).isEqualTo(fleet.amiOf(A));
            assertThat(i.privateIpAddress()).isEqualTo(ADDRESSES.get(node));
            firstInstance.put(node, i.instanceId());
            assertThat(server.status(mac(node)).reportedImage()).isEqualTo(A.toString());
        }

        Plan roll = controller.plan(to(B.toString(), 60));
        assertThat(roll.blockers()).isEmpty();
        assertThat(roll.batches().stream()
                        .map(b -> b.nodes().stream().map(Plan.Node::name).toList())
                        .toList())
                .containsExactly(List.of("m1"), List.of("m2"), List.of("m3"), List.of("w1"), List.of("w2"));
        assertThat(roll.nodes()).allSatisfy(n -> {
            assertThat(n.from()).isEqualTo(A.toString());
            assertThat(n.artifact()).isEqualTo(fleet.amiOf(B));
        });
        // Sampled from outside: a node is down when it has no running instance or kiln serve's
        // last word from it is not "ready" (booted, not yet confirmed).
        AtomicInteger maxDown = new AtomicInteger();
        Thread sampler = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                int down = 0;
                for (String node : ADDRESSES.keySet()) {
                    NodeStatus s = server.status(mac(node));
                    boolean running = fleet.alive(node).stream()
                            .anyMatch(i -> i.state().nameAsString().equals("running"));
                    if (!running || s == null || !"ready".equals(s.step())) {
                        down++;
                    }
                }
                maxDown.accumulateAndGet(down, Math::max);
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        sampler.start();
        RolloutState done;
        try {
            done = awaitEnd(controller.apply(roll).id());
        } finally {
            sampler.interrupt();
            sampler.join();
        }
        assertThat(done.state()).as(done.reason()).isEqualTo("done");
        assertThat(maxDown.get()).as("nodes down at once, sampled").isBetween(1, 1);
        assertThat(maxDownAtOnce(done, ADDRESSES.keySet())).isEqualTo(1);
        assertThat(done.events().stream()
                        .filter(e -> e.type().equals("node-done"))
                        .map(Journal.Event::node)
                        .toList())
                .containsExactly("m1", "m2", "m3", "w1", "w2");
        for (String node : ADDRESSES.keySet()) {
            Instance i = single(node);
            assertThat(i.instanceId()).isNotEqualTo(firstInstance.get(node));
            assertThat(i.imageId()).as(node).isEqualTo(fleet.amiOf(B));
            assertThat(Ec2Tags.version(i)).isEqualTo(B);
            assertThat(i.privateIpAddress()).isEqualTo(ADDRESSES.get(node));
            assertThat(fleet.all(node)).as("A then B, nothing else").hasSize(2);
            assertThat(server.currentImage(mac(node))).isEqualTo(B);
            assertThat(server.status(mac(node)).reportedImage()).isEqualTo(B.toString());
            // The journal is complete: every step begun and ended, then node-done.
            for (String step : STEPS) {
                assertThat(done.events())
                        .as(node + " " + step)
                        .anyMatch(e -> node.equals(e.node()) && "begin".equals(e.type()) && step.equals(e.step()))
                        .anyMatch(e -> node.equals(e.node()) && "end".equals(e.type()) && step.equals(e.step()));
            }
            assertThat(done.events()).anyMatch(e -> node.equals(e.node()) && "node-done".equals(e.type()));
            assertThat(done.events())
                    .as("the power step names the instance")
                    .anyMatch(e -> node.equals(e.node())
                            && "end".equals(e.type())
                            && "power".equals(e.step())
                            && e.detail().contains(i.instanceId())
                            && e.detail().contains("terminated " + firstInstance.get(node)));
        }
        assertThat(agent.errors()).isEmpty();
    }

    @Test
    void aNewInstanceThatNeverReportsHaltsTheRolloutAndTheNodeGoesBackToA() throws Exception {
        bringUp();
        agent.refuse("m2", B);
        RolloutState done =
                awaitEnd(controller.apply(controller.plan(to(B.toString(), 20))).id());
        assertThat(done.state()).isEqualTo("halted");
        assertThat(done.reason()).contains("m2").contains("not confirmed").contains("rolled back to " + A);
        Map<String, String> states = new HashMap<>();
        done.nodes().forEach(n -> states.put(n.name(), n.state()));
        assertThat(states)
                .containsEntry("m1", "done")
                .containsEntry("m2", "rolled-back")
                .containsEntry("m3", "pending")
                .containsEntry("w1", "pending")
                .containsEntry("w2", "pending");
        // m2 is back on A's AMI (not B's), at its address, and reported so by the stand-in.
        Instance m2 = single("m2");
        assertThat(m2.imageId()).isEqualTo(fleet.amiOf(A));
        assertThat(Ec2Tags.version(m2)).isEqualTo(A);
        assertThat(m2.privateIpAddress()).isEqualTo(ADDRESSES.get("m2"));
        assertThat(fleet.all("m2")).as("A, B (never reported), A again").hasSize(3);
        assertThat(server.currentImage(mac("m2"))).isEqualTo(A);
        assertThat(server.status(mac("m2")).reportedImage()).isEqualTo(A.toString());
        assertThat(single("m1").imageId()).isEqualTo(fleet.amiOf(B));
        for (String untouched : List.of("m3", "w1", "w2")) {
            assertThat(fleet.all(untouched)).as(untouched).hasSize(1);
            assertThat(single(untouched).imageId()).isEqualTo(fleet.amiOf(A));
        }
    }

    @Test
    void aControllerStoppedDuringAPowerStepGoesOnAfterARestartWithOneInstancePerNode() throws Exception {
        bringUp();
        String id = controller.apply(controller.plan(to(B.toString(), 60))).id();
        // Stop kiln serve (controller and server) as soon as a node's replacement was launched.
        await(
                "w1's replacement launched",
                Duration.ofSeconds(120),
                () -> fleet.alive("w1").stream().anyMatch(i -> B.equals(Ec2Tags.version(i))));
        stop();
        start();
        RolloutState done = awaitEnd(id);
        assertThat(done.state()).as(done.reason()).isEqualTo("done");
        assertThat(done.events()).anyMatch(e -> e.type().equals("restarted"));
        for (String node : ADDRESSES.keySet()) {
            assertThat(fleet.alive(node)).as(node).hasSize(1);
            assertThat(fleet.all(node)).as(node + ": A then B").hasSize(2);
            assertThat(single(node).imageId()).isEqualTo(fleet.amiOf(B));
        }
    }

    // ---- helpers ----

    Instance single(String node) {
        List<Instance> alive = fleet.alive(node);
        assertThat(alive).as(node + ": one instance").hasSize(1);
        return alive.get(0);
    }

    String mac(String node) {
        return server.inventory().members().stream()
                .filter(m -> m.name().equals(node))
                .map(Inventory.Member::mac)
                .findFirst()
                .orElseThrow();
    }

    RolloutState status(String id) {
        try {
            return controller.status(id);
        } catch (RolloutController.Refused e) {
            throw new AssertionError(e);
        }
    }

    RolloutState awaitEnd(String id) throws InterruptedException {
        await(
                "rollout " + id + " ends",
                Duration.ofSeconds(180),
                () -> !status(id).active());
        return status(id);
    }

    /** Most nodes between their "begin repoint" and their end (done, failed) at any moment. */
    static int maxDownAtOnce(RolloutState s, Set<String> only) {
        Set<String> down = new HashSet<>();
        int max = 0;
        for (Journal.Event e : s.events()) {
            if (e.node() == null || !only.contains(e.node())) {
                continue;
            }
            if (e.type().equals("begin") && "repoint".equals(e.step())) {
                down.add(e.node());
            } else if (e.type().startsWith("node-")) {
                down.remove(e.node());
            }
            max = Math.max(max, down.size());
        }
        return max;
    }

    static void await(String what, Duration timeout, BooleanSupplier ok) throws InterruptedException {
        Instant end = Instant.now().plus(timeout);
        while (!ok.getAsBoolean()) {
            if (Instant.now().isAfter(end)) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(100);
        }
    }
}
