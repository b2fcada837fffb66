package dev.kiln.rollout.ec2;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.autoscaling.AutoScalingClient;
import software.amazon.awssdk.services.ec2.model.LaunchTemplateHttpTokensState;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.ResponseLaunchTemplateData;

/**
 * An Auto Scaling worker pool moved from AMI A to B and back, against moto.
 *
 * <p>Where moto is weaker than AWS: it ignores CreateLaunchTemplateVersion's SourceVersion (so
 * {@link AsgPool} also copies the data itself, and the test checks that copy); it reports every
 * instance of a group with the group's current launch template version, whatever the instance was
 * launched from (so "which instances are replaced" is checked by the AMI each runs, as kiln
 * decides it); it launches replacements synchronously and InService at once; and it has no instance
 * refresh at all ({@link AsgRefreshRequestTest} checks the request kiln would send).
 */
@Tag("aws")
class AsgPoolTest {
    Ec2World world;
    AutoScalingClient asg;
    AsgPool pool;
    String template;

    @BeforeEach
    void setUp() {
        world = new Ec2World();
        asg = world.clients.autoScaling(Region.of(Ec2World.REGION));
        template = world.ec2
                .createLaunchTemplate(r -> r.launchTemplateName("workers")
                        .launchTemplateData(d -> d.imageId(world.amiA)
                                .instanceType("t3.small")
                                .keyName("ops")
                                .securityGroupIds(world.group)
                                .userData(Base64.getEncoder().encodeToString("{\"role\":\"join-worker\"}".getBytes()))
                                .metadataOptions(m -> m.httpTokens(LaunchTemplateHttpTokensState.REQUIRED))
                                .tagSpecifications(t -> t.resourceType(ResourceType.INSTANCE)
                                        .tags(software.amazon.awssdk.services.ec2.model.Tag.builder()
                                                .key("kiln:cluster")
                                                .value("cloud")
                                                .build()))))
                .launchTemplate()
                .launchTemplateId();
        asg.createAutoScalingGroup(r -> r.autoScalingGroupName("cloud-workers")
                .launchTemplate(l -> l.launchTemplateId(template).version("1"))
                .minSize(0)
                .maxSize(8)
                .desiredCapacity(4)
                .vpcZoneIdentifier(world.subnet));
        pool = new AsgPool(asg, world.ec2, "cloud-workers", Ec2World.REGION)
                .polling(Duration.ofMillis(100), Duration.ofSeconds(20));
    }

    @AfterEach
    void tearDown() {
        world.close();
    }

    ResponseLaunchTemplateData data(long version) {
        return world.ec2
                .describeLaunchTemplateVersions(
                        r -> r.launchTemplateId(template).versions(Long.toString(version)))
                .launchTemplateVersions()
                .get(0)
                .launchTemplateData();
    }

    Set<String> ids(List<AsgPool.Instance> instances) {
        return instances.stream().map(AsgPool.Instance::instanceId).collect(Collectors.toSet());
    }

    String state(String instanceId) {
        return world.ec2
                .describeInstances(r -> r.instanceIds(instanceId))
                .reservations()
                .get(0)
                .instances()
                .get(0)
                .state()
                .nameAsString();
    }

    int desired() {
        return asg.describeAutoScalingGroups(r -> r.autoScalingGroupNames("cloud-workers"))
                .autoScalingGroups()
                .get(0)
                .desiredCapacity();
    }

    @Test
    void rollsThePoolToANewTemplateVersionInBatchesAndBack() throws Exception {
        AsgPool.TemplateVersion v1 = pool.current();
        assertThat(v1.version()).isEqualTo(1);
        assertThat(v1.imageId()).isEqualTo(world.amiA);
        assertThat(v1.templateName()).isEqualTo("workers");
        List<AsgPool.Instance> before = pool.instances();
        assertThat(before).hasSize(4).allSatisfy(i -> assertThat(i.imageId()).isEqualTo(world.amiA));

        // 1. A new version: everything of version 1 but the AMI.
        AsgPool.TemplateVersion v2 = pool.newVersionWithAmi(world.amiB);
        assertThat(v2.version()).isEqualTo(2);
        ResponseLaunchTemplateData d1 = data(1);
        ResponseLaunchTemplateData d2 = data(2);
        assertThat(d2.imageId()).isEqualTo(world.amiB);
        assertThat(d2.toBuilder().imageId(world.amiA).build()).isEqualTo(d1);
        assertThat(d2.userData()).isNotEmpty();
        assertThat(d2.securityGroupIds()).containsExactly(world.group);
        assertThat(d2.tagSpecifications()).isNotEmpty();

        // 2. The group launches from it; 4. the instances not yet replaced are kept from scale-in.
        pool.setVersion(v2);
        assertThat(pool.current()).isEqualTo(v2);
        pool.protectFromScaleIn(ids(before), true);
        assertThat(pool.instances())
                .allSatisfy(i -> assertThat(i.protectedFromScaleIn()).isTrue());

        // 3. A batch of two: two new instances on B, the desired capacity unchanged.
        List<String> batch =
                before.stream().limit(2).map(AsgPool.Instance::instanceId).toList();
        List<AsgPool.Instance> fresh = pool.replace(batch);
        assertThat(fresh).hasSize(2).allSatisfy(i -> assertThat(i.imageId()).isEqualTo(world.amiB));
        pool.awaitInService(ids(fresh));
        assertThat(desired()).isEqualTo(4);
        List<AsgPool.Instance> now = pool.instances();
        assertThat(now).hasSize(4);
        assertThat(ids(now)).doesNotContainAnyElementsOf(batch);
        assertThat(batch).allSatisfy(id -> assertThat(state(id)).isEqualTo("terminated"));
        assertThat(now.stream().filter(i -> i.imageId().equals(world.amiA)))
                .hasSize(2)
                .allSatisfy(i -> assertThat(i.protectedFromScaleIn()).isTrue());
        assertThat(now).allSatisfy(i -> assertThat(i.lifecycleState()).isEqualTo("InService"));

        // 5. Rollback: version 1 again, and the replaced ones come back on A.
        pool.rollback(v1);
        assertThat(pool.current()).isEqualTo(v1);
        List<AsgPool.Instance> back = pool.replace(ids(fresh));
        assertThat(back).hasSize(2).allSatisfy(i -> assertThat(i.imageId()).isEqualTo(world.amiA));
        assertThat(pool.instances())
                .hasSize(4)
                .allSatisfy(i -> assertThat(i.imageId()).isEqualTo(world.amiA));
        assertThat(desired()).isEqualTo(4);
    }

    @Test
    void aGroupWithoutALaunchTemplateOrOneThatDoesNotExistIsAClearError() {
        AsgPool missing = new AsgPool(asg, world.ec2, "no-such-group", Ec2World.REGION);
        org.assertj.core.api.Assertions.assertThatThrownBy(missing::current)
                .hasMessage("Auto Scaling group no-such-group does not exist in region eu-west-1");
    }
}
