package dev.kiln.rollout.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.fleet.KilnServer;
import dev.kiln.rollout.FleetDrivers;
import dev.kiln.rollout.PoolPlan;
import dev.kiln.rollout.PoolPlanRequest;
import dev.kiln.rollout.RolloutController;
import dev.kiln.rollout.RolloutState;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.autoscaling.AutoScalingClient;

/**
 * A pool rollout through the controller inside a real kiln serve: the inventory's cluster lists an
 * Auto Scaling pool, whose group (4 instances on A's AMI) moto runs. moto launches replacements
 * synchronously and InService at once, has no instance refresh, and reports every instance with the
 * group's current template version (so what runs is checked by AMI). The controller gets the test's
 * SDK clients: moto writes Auto Scaling timestamps without a zone, which the SDK cannot read
 * unaided ({@link Ec2World.ZonedAsgTimes}).
 */
@Tag("aws")
class AsgRolloutTest {
    @TempDir
    Path dir;

    Ec2Fleet fleet;
    KilnServer server;
    RolloutController controller;
    AutoScalingClient asg;
    String template;

    @BeforeEach
    void setUp() throws Exception {
        fleet = Ec2Fleet.prepare(dir, "pools: [{name: workers-a, autoScalingGroup: cloud-workers}]");
        Ec2World w = fleet.world;
        asg = w.clients.autoScaling(Region.of(Ec2World.REGION));
        template = fleet.autoScalingGroup("cloud-workers", 4);
        server = KilnServer.start(
                new KilnServer.Options(fleet.inventory, fleet.store, "127.0.0.1", 0, null, dir.resolve("state"), 100));
        controller = RolloutController.attach(server, new FleetDrivers(server, null, w.clients));
    }

    @AfterEach
    void tearDown() {
        if (controller != null) {
            controller.close();
        }
        if (server != null) {
            server.close();
        }
        fleet.close();
    }

    PoolPlanRequest to(String budget, String strategy) {
        return new PoolPlanRequest(Ec2Fleet.CLUSTER, "workers-a", Ec2Fleet.B.toString(), budget, strategy, 30L);
    }

    List<software.amazon.awssdk.services.autoscaling.model.Instance> group() {
        return asg.describeAutoScalingGroups(r -> r.autoScalingGroupNames("cloud-workers"))
                .autoScalingGroups()
                .get(0)
                .instances();
    }

    int desired() {
        return asg.describeAutoScalingGroups(r -> r.autoScalingGroupNames("cloud-workers"))
                .autoScalingGroups()
                .get(0)
                .desiredCapacity();
    }

    String groupVersion() {
        return asg.describeAutoScalingGroups(r -> r.autoScalingGroupNames("cloud-workers"))
                .autoScalingGroups()
                .get(0)
                .launchTemplate()
                .version();
    }

    Set<String> amis() {
        return Set.copyOf(fleet.groupAmis("cloud-workers").values());
    }

    long launchedFrom(String ami) {
        return fleet.launchedFrom(ami);
    }

    @Test
    void aPoolRollsToTheNewAmiInBudgetedBatchesKeepingItsCapacityAndRollsBack() throws Exception {
        List<String> before = group().stream()
                .map(software.amazon.awssdk.services.autoscaling.model.Instance::instanceId)
                .toList();
        PoolPlan plan = controller.planPool(to("2", null));
        assertThat(plan.blockers()).isEmpty();
        assertThat(plan.group()).isEqualTo("cloud-workers");
        assertThat(plan.fromTemplateVersion()).isEqualTo(1);
        assertThat(plan.fromAmi()).isEqualTo(fleet.amiOf(Ec2Fleet.A));
        assertThat(plan.toAmi()).isEqualTo(fleet.amiOf(Ec2Fleet.B));
        assertThat(plan.batches()).hasSize(2).allSatisfy(b -> assertThat(b).hasSize(2));
        assertThat(plan.instances()).containsExactlyInAnyOrderElementsOf(before);

        RolloutState done = awaitEnd(controller.applyPool(plan).id());
        assertThat(done.state()).as(done.reason() + " " + done.events()).isEqualTo("done");
        assertThat(groupVersion()).isEqualTo("2");
        assertThat(amis()).containsExactly(fleet.amiOf(Ec2Fleet.B));
        assertThat(group()).hasSize(4).allSatisfy(i -> {
            assertThat(before).doesNotContain(i.instanceId());
            assertThat(i.lifecycleStateAsString()).isEqualTo("InService");
        });
        assertThat(desired()).isEqualTo(4);
        assertThat(launchedFrom(fleet.amiOf(Ec2Fleet.B)))
                .as("one replacement per instance")
                .isEqualTo(4);
        assertThat(done.nodes())
                .hasSize(4)
                .allSatisfy(n -> assertThat(n.state()).isEqualTo("done"));
        List<String> steps = done.events().stream()
                .filter(e -> e.type().equals("end") && e.node() == null)
                .map(e -> e.step())
                .toList();
        assertThat(steps).containsExactly("template", "set-version", "protect", "confirm-group", "unprotect");
        // Batches of two: the second batch began only after the first was confirmed.
        long firstBatchDone = done.events().stream()
                .filter(e -> e.type().equals("node-done")
                        && e.node() != null
                        && plan.batches().get(0).contains(e.node()))
                .mapToLong(e -> e.seq())
                .max()
                .orElseThrow();
        assertThat(done.events())
                .filteredOn(e -> e.type().equals("begin")
                        && e.node() != null
                        && plan.batches().get(1).contains(e.node()))
                .allSatisfy(e -> assertThat(e.seq()).isGreaterThan(firstBatchDone));
        assertThat(controller.list()).extracting(RolloutState::id).contains(done.id());

        // A second plan finds nothing left to replace.
        assertThat(controller.planPool(to("2", null)).batches()).isEmpty();

        RolloutState back = awaitEnd(controller.rollback(done.id()).id());
        assertThat(back.state()).as(back.reason()).isEqualTo("rolled-back");
        assertThat(groupVersion()).isEqualTo("1");
        assertThat(amis()).containsExactly(fleet.amiOf(Ec2Fleet.A));
        assertThat(group()).hasSize(4);
        assertThat(desired()).isEqualTo(4);
    }

    @Test
    void aPlanIsStaleWhenTheGroupChangedAndBadRequestsNameWhatIsWrong() throws Exception {
        PoolPlan plan = controller.planPool(to("1", null));
        assertThat(plan.batches()).hasSize(4);
        fleet.world.ec2.createLaunchTemplateVersion(
                r -> r.launchTemplateId(template).launchTemplateData(d -> d.imageId(fleet.amiOf(Ec2Fleet.B))));
        asg.updateAutoScalingGroup(r -> r.autoScalingGroupName("cloud-workers")
                .launchTemplate(l -> l.launchTemplateId(template).version("2")));
        assertThatThrownBy(() -> controller.applyPool(plan))
                .isInstanceOf(RolloutController.Refused.class)
                .hasMessageContaining("stale")
                .hasMessageContaining("version 2 now, not version 1");
        assertThatThrownBy(() -> controller.planPool(
                        new PoolPlanRequest(Ec2Fleet.CLUSTER, "workers-b", Ec2Fleet.B.toString(), null, null, null)))
                .hasMessageContaining("--pool: cluster cloud has no pool 'workers-b' (its aws.pools: workers-a)");
        assertThatThrownBy(() -> new PoolPlanRequest(Ec2Fleet.CLUSTER, "workers-a", "x:1", null, "blue-green", null))
                .hasMessageContaining("--strategy: expected kiln or instance-refresh");
        PoolPlan unpublished = controller.planPool(
                new PoolPlanRequest(Ec2Fleet.CLUSTER, "workers-a", "debian-node:9.9.9", null, null, null));
        assertThat(unpublished.blockers())
                .anySatisfy(b -> assertThat(b).contains("debian-node:9.9.9 is not in kiln serve's store"));
    }

    /**
     * moto has no instance refresh: the request kiln sends is checked in AsgRefreshRequestTest; here,
     * that it is sent, and that its refusal halts the rollout with AWS's answer and touches no
     * instance.
     */
    @Test
    void instanceRefreshIsStartedAndItsRefusalHaltsTheRollout() throws Exception {
        List<String> before = group().stream()
                .map(software.amazon.awssdk.services.autoscaling.model.Instance::instanceId)
                .toList();
        PoolPlan plan = controller.planPool(to("25%", "instance-refresh"));
        RolloutState s = awaitEnd(controller.applyPool(plan).id());
        assertThat(s.state()).isEqualTo("halted");
        assertThat(s.reason()).contains("starting an instance refresh of group cloud-workers");
        assertThat(fleet.world.sent(
                        software.amazon.awssdk.services.autoscaling.model.StartInstanceRefreshRequest.class))
                .singleElement()
                .satisfies(r -> {
                    assertThat(r.preferences().minHealthyPercentage()).isEqualTo(75);
                    assertThat(r.desiredConfiguration().launchTemplate().version())
                            .isEqualTo("2");
                });
        assertThat(group())
                .extracting(software.amazon.awssdk.services.autoscaling.model.Instance::instanceId)
                .containsExactlyInAnyOrderElementsOf(before);
        assertThat(groupVersion()).isEqualTo("1");
    }

    RolloutState awaitEnd(String id) throws Exception {
        Instant end = Instant.now().plus(Duration.ofSeconds(120));
        while (controller.status(id).state().equals("running")) {
            if (Instant.now().isAfter(end)) {
                throw new AssertionError("timed out waiting for " + id + ": " + controller.status(id));
            }
            Thread.sleep(100);
        }
        return controller.status(id);
    }
}
