package dev.kiln.rollout.ec2;

import dev.kiln.aws.AwsSettings;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Published;
import dev.kiln.fleet.TestStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Instance;

/**
 * An EC2 cluster "cloud" (3 masters, 2 workers on 10.1.0.0/24) in a freshly reset moto, with a
 * store of two hand-made versions A and B (fleet's TestStore.pxeVersion: no etcd component, so the
 * controller's cluster guard is NONE) whose AMIs are registered in moto and recorded in each
 * version's published.json as kiln publish --ami records them (region, AMI id, the emulator's
 * endpoint). The AMIs are registered directly rather than through AmiPublisher: these versions have
 * no disk.raw to import, and the controller reads only published.json and the AMI's existence.
 */
public final class Ec2Fleet implements AutoCloseable {
    public static final String CLUSTER = "cloud";
    public static final ImageRef A = new ImageRef("debian-node", "1.0.0");
    public static final ImageRef B = new ImageRef("debian-node", "2.0.0");
    public static final Map<String, String> ADDRESSES = new LinkedHashMap<>();

    static {
        ADDRESSES.put("m1", "10.1.0.11");
        ADDRESSES.put("m2", "10.1.0.12");
        ADDRESSES.put("m3", "10.1.0.13");
        ADDRESSES.put("w1", "10.1.0.21");
        ADDRESSES.put("w2", "10.1.0.22");
    }

    final Ec2World world;
    public final ImageStore store;
    public final Path inventory;

    private Ec2Fleet(Ec2World world, ImageStore store, Path inventory) {
        this.world = world;
        this.store = store;
        this.inventory = inventory;
    }

    /** Writes DIR/store and DIR/inventory.yaml (extra lines go into the cluster's aws: entry). */
    public static Ec2Fleet prepare(Path dir, String extraAws) throws IOException {
        return prepare(dir, extraAws, null);
    }

    /**
     * @param endpoint the endpoint kiln serve will use, as published.json records it (default:
     *     moto's own; a test that puts a proxy in front of moto gives the proxy's)
     */
    public static Ec2Fleet prepare(Path dir, String extraAws, String endpoint) throws IOException {
        Ec2World world = new Ec2World();
        String recorded = endpoint == null ? world.moto.endpoint().toString() : endpoint;
        ImageStore store = new ImageStore(dir.resolve("store"));
        TestStore.pxeVersion(store, A.name(), A.version(), 4096);
        TestStore.pxeVersion(store, B.name(), B.version(), 4096);
        published(store, A, world.amiA, recorded);
        published(store, B, world.amiB, recorded);
        String nodes = ADDRESSES.entrySet().stream()
                .map(e -> "      - {name: " + e.getKey() + ", role: "
                        + (e.getKey().startsWith("m") ? "master" : "worker") + ", address: " + e.getValue() + "}")
                .collect(Collectors.joining("\n"));
        Path inventory = dir.resolve("inventory.yaml");
        Files.writeString(inventory, """
                clusters:
                  - name: %s
                    image: %s
                    aws: {region: %s, subnetId: %s, securityGroupIds: [%s], instanceType: t3.small,
                          iamInstanceProfile: %s%s}
                    nodes:
                %s
                """.formatted(
                        CLUSTER,
                        A,
                        Ec2World.REGION,
                        world.subnet,
                        world.group,
                        Ec2World.PROFILE,
                        extraAws == null ? "" : ", " + extraAws,
                        nodes));
        return new Ec2Fleet(world, store, inventory);
    }

    private static void published(ImageStore store, ImageRef v, String ami, String endpoint) throws IOException {
        Published.update(
                store.dir(v),
                v.toString(),
                p -> p.withAmi(new Published.Ami(
                        Ec2World.REGION,
                        ami,
                        null,
                        "kiln/" + v.name() + "/" + v.version(),
                        null,
                        List.of(),
                        null,
                        endpoint,
                        Instant.now().toString())));
    }

    /**
     * An Auto Scaling group in moto on A's AMI (launch template "workers", version 1), for a pool
     * named in the inventory's aws: entry; returns the template's id.
     */
    public String autoScalingGroup(String name, int capacity) {
        String template = world.ec2
                .createLaunchTemplate(r -> r.launchTemplateName("workers")
                        .launchTemplateData(d ->
                                d.imageId(world.amiA).instanceType("t3.small").securityGroupIds(world.group)))
                .launchTemplate()
                .launchTemplateId();
        world.clients
                .autoScaling(software.amazon.awssdk.regions.Region.of(Ec2World.REGION))
                .createAutoScalingGroup(r -> r.autoScalingGroupName(name)
                        .launchTemplate(l -> l.launchTemplateId(template).version("1"))
                        .minSize(0)
                        .maxSize(capacity * 2)
                        .desiredCapacity(capacity)
                        .vpcZoneIdentifier(world.subnet));
        return template;
    }

    /** The group's instances: id and the AMI each runs. */
    public Map<String, String> groupAmis(String name) {
        List<String> ids = world
                .clients
                .autoScaling(software.amazon.awssdk.regions.Region.of(Ec2World.REGION))
                .describeAutoScalingGroups(r -> r.autoScalingGroupNames(name))
                .autoScalingGroups()
                .get(0)
                .instances()
                .stream()
                .map(software.amazon.awssdk.services.autoscaling.model.Instance::instanceId)
                .toList();
        Map<String, String> out = new LinkedHashMap<>();
        if (!ids.isEmpty()) {
            world.ec2.describeInstances(r -> r.instanceIds(ids)).reservations().stream()
                    .flatMap(r -> r.instances().stream())
                    .forEach(i -> out.put(i.instanceId(), i.imageId()));
        }
        return out;
    }

    /** How many instances moto ever launched from this AMI (terminated ones too). */
    public long launchedFrom(String ami) {
        return world
                .ec2
                .describeInstances(r -> r.filters(f -> f.name("image-id").values(ami)))
                .reservations()
                .stream()
                .mapToLong(r -> r.instances().size())
                .sum();
    }

    /**
     * moto's answer with a zone after its Auto Scaling timestamps, which the SDK cannot read
     * without one: for a proxy in front of moto, as {@link Ec2World.ZonedAsgTimes} for in-process
     * clients.
     */
    public static String zonedAsgTimes(String body) {
        return Ec2World.ZonedAsgTimes.zoned(body);
    }

    public String region() {
        return Ec2World.REGION;
    }

    public Ec2Client ec2() {
        return world.ec2;
    }

    /** What kiln serve is given to reach moto (its --endpoint-url and --region). */
    public AwsSettings settings() {
        return world.moto.settings(Ec2World.REGION);
    }

    public String endpoint() {
        return world.moto.endpoint().toString();
    }

    public String amiOf(ImageRef v) {
        return v.equals(A) ? world.amiA : v.equals(B) ? world.amiB : null;
    }

    /** The node's pending or running instances. */
    public List<Instance> alive(String node) {
        return world
                .ec2
                .describeInstances(r -> r.filters(
                        Filter.builder().name("tag:kiln:node").values(node).build(),
                        Filter.builder()
                                .name("instance-state-name")
                                .values("pending", "running")
                                .build()))
                .reservations()
                .stream()
                .flatMap(r -> r.instances().stream())
                .toList();
    }

    /** Every instance ever launched for the node, in any state. */
    public List<Instance> all(String node) {
        return world
                .ec2
                .describeInstances(r -> r.filters(
                        Filter.builder().name("tag:kiln:node").values(node).build()))
                .reservations()
                .stream()
                .flatMap(r -> r.instances().stream())
                .toList();
    }

    public AgentStandIn agent(java.time.Duration bootTime) {
        return new AgentStandIn(world.ec2, store, CLUSTER, bootTime);
    }

    @Override
    public void close() {
        world.close();
    }
}
