package dev.kiln.rollout.ec2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.TestStore;
import dev.kiln.rollout.NodeReplacer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.HttpTokensState;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceAttributeName;
import software.amazon.awssdk.services.ec2.model.RunInstancesRequest;
import software.amazon.awssdk.services.iam.IamClient;

/**
 * The EC2 driver of kiln rollout against moto, behind a real kiln serve whose inventory has an
 * {@code aws:} cluster of 3 masters and 2 workers.
 *
 * <p>moto launches no machines, so nothing boots and no node agent runs: where a test needs the
 * node's phone-home, a stand-in ({@link #agentStandIn}) posts the report the agent would, with the
 * token it finds in the instance's user data. What moto does not keep, and so is checked on the
 * request kiln sent instead of on the instance: MetadataOptions (IMDSv2 required) and ClientToken
 * (moto ignores both). moto frees a terminated instance's address at once (AWS takes a moment:
 * {@link Ec2Replacer} retries InvalidIPAddress.InUse), and answers every DryRun call with
 * DryRunOperation unless its IAM authentication is on.
 */
@Tag("aws")
class Ec2ReplacerTest {
    static final ImageRef A = new ImageRef("debian-node", "1.0.0");
    static final ImageRef B = new ImageRef("debian-node", "2.0.0");
    static final Map<String, String> ADDRESSES = new LinkedHashMap<>();

    static {
        ADDRESSES.put("m1", "10.1.0.11");
        ADDRESSES.put("m2", "10.1.0.12");
        ADDRESSES.put("m3", "10.1.0.13");
        ADDRESSES.put("w1", "10.1.0.21");
        ADDRESSES.put("w2", "10.1.0.22");
    }

    @TempDir
    Path tmp;

    Ec2World world;
    KilnServer server;
    Inventory.Aws aws;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void setUp() throws Exception {
        world = new Ec2World();
        ImageStore store = new ImageStore(tmp.resolve("store"));
        TestStore.pxeVersion(store, A.name(), A.version(), 4096);
        TestStore.pxeVersion(store, B.name(), B.version(), 4096);
        String nodes = ADDRESSES.entrySet().stream()
                .map(e -> "      - {name: " + e.getKey() + ", role: "
                        + (e.getKey().startsWith("m") ? "master" : "worker") + ", address: " + e.getValue() + "}")
                .collect(Collectors.joining("\n"));
        Path inventory = tmp.resolve("inventory.yaml");
        Files.writeString(
                inventory, """
                clusters:
                  - name: cloud
                    image: debian-node:1.0.0
                    aws: {region: %s, subnetId: %s, securityGroupIds: [%s], instanceType: t3.small,
                          iamInstanceProfile: %s, keyName: ops}
                    nodes:
                %s
                """.formatted(Ec2World.REGION, world.subnet, world.group, Ec2World.PROFILE, nodes));
        server = KilnServer.start(
                new KilnServer.Options(inventory, store, "127.0.0.1", 0, null, tmp.resolve("state"), 100));
        aws = server.inventory().members().get(0).cluster().aws();
    }

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
        world.close();
    }

    Ec2Replacer replacer(Inventory.Aws settings, String rollout) {
        return new Ec2Replacer(
                        settings,
                        world.ec2,
                        Ec2UserData.source(server::metadataOf, server.publicUrl(), server::token),
                        rollout)
                .polling(Duration.ofMillis(100), Duration.ofSeconds(20));
    }

    Ec2Replacer replacer(String rollout) {
        return replacer(aws, rollout);
    }

    NodeReplacer.Node node(String name, ImageRef from, ImageRef to, String ami) {
        Inventory.Member m = server.inventory().members().stream()
                .filter(x -> x.name().equals(name))
                .findFirst()
                .orElseThrow();
        return new NodeReplacer.Node(
                "cloud", name, m.mac(), m.node().role(), m.node().address(), from, to, ami);
    }

    List<Instance> alive(String node) {
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

    Instance instance(String id) {
        return world.ec2
                .describeInstances(r -> r.instanceIds(id))
                .reservations()
                .get(0)
                .instances()
                .get(0);
    }

    static String tag(Instance i, String key) {
        return i.tags().stream()
                .filter(t -> t.key().equals(key))
                .map(t -> t.value())
                .findFirst()
                .orElse(null);
    }

    Map<String, String> userData(String instanceId) throws Exception {
        String b64 = world.ec2
                .describeInstanceAttribute(r -> r.instanceId(instanceId).attribute(InstanceAttributeName.USER_DATA))
                .userData()
                .value();
        return Json.MAPPER.readValue(
                Base64.getDecoder().decode(b64),
                Json.MAPPER.getTypeFactory().constructMapType(Map.class, String.class, String.class));
    }

    /**
     * Stands in for the node agent of an instance moto "launched": posts the report the agent sends
     * after reading its user data through IMDSv2, with the server and token found there.
     */
    int agentStandIn(Map<String, String> userData, String step, ImageRef image) throws Exception {
        String body = Json.MAPPER.writeValueAsString(
                Map.of("step", step, "image", Map.of("name", image.name(), "version", image.version())));
        return http.send(
                        HttpRequest.newBuilder(URI.create(userData.get("server") + "/status"))
                                .header("Authorization", "Bearer " + userData.get("token"))
                                .POST(HttpRequest.BodyPublishers.ofString(body))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    @Test
    void bringsUpTheClusterFromNothingThenReplacesANodeAtItsAddress() throws Exception {
        Ec2Replacer r = replacer("rollout-1");
        for (String name : ADDRESSES.keySet()) {
            assertThat(r.blocker(node(name, null, A, world.amiA))).as(name).isNull();
            assertThat(r.alreadyReplaced(node(name, null, A, world.amiA))).isFalse();
            assertThat(r.replace(node(name, null, A, world.amiA)))
                    .matches("instance i-\\w+ launched from " + world.amiA + " at " + ADDRESSES.get(name)
                            + " \\(the node had no instance\\)");
        }
        for (String name : ADDRESSES.keySet()) {
            List<Instance> own = alive(name);
            assertThat(own).as(name).hasSize(1);
            Instance i = own.get(0);
            assertThat(i.privateIpAddress()).isEqualTo(ADDRESSES.get(name));
            assertThat(i.imageId()).isEqualTo(world.amiA);
            assertThat(i.subnetId()).isEqualTo(world.subnet);
            assertThat(i.instanceTypeAsString()).isEqualTo("t3.small");
            assertThat(i.keyName()).isEqualTo("ops");
            // On the primary interface, where kiln puts them (moto lists no instance-level groups then).
            assertThat(i.networkInterfaces()).singleElement().satisfies(eni -> {
                assertThat(eni.groups()).extracting(g -> g.groupId()).containsExactly(world.group);
                assertThat(eni.privateIpAddress()).isEqualTo(ADDRESSES.get(name));
            });
            assertThat(i.iamInstanceProfile().arn()).endsWith("/" + Ec2World.PROFILE);
            assertThat(tag(i, "kiln:cluster")).isEqualTo("cloud");
            assertThat(tag(i, "kiln:node")).isEqualTo(name);
            assertThat(tag(i, "kiln:version")).isEqualTo("1.0.0");
            assertThat(tag(i, "Name")).isEqualTo("cloud-" + name);

            // The user data is the node's metadata document with server and token: what the agent's
            // IMDS path reads.
            NodeReplacer.Node n = node(name, null, A, world.amiA);
            Map<String, String> doc = userData(i.instanceId());
            Map<String, String> expected = new LinkedHashMap<>(server.metadataOf(n.mac()));
            expected.put("server", server.publicUrl());
            expected.put("token", server.token(n.mac()));
            assertThat(doc).isEqualTo(expected);
            assertThat(doc)
                    .containsEntry("name", name)
                    .containsEntry("address", ADDRESSES.get(name))
                    .containsEntry("cluster", "cloud")
                    .containsEntry("mac", n.mac());
            assertThat(doc.get("role"))
                    .isEqualTo(
                            name.equals("m1") ? "init-master" : name.startsWith("m") ? "join-master" : "join-worker");
            // It phones home like a PXE node: kiln serve takes the token from the user data.
            assertThat(agentStandIn(doc, "booted", A)).isEqualTo(204);
            assertThat(server.status(n.mac()).step()).isEqualTo("booted");
            assertThat(r.alreadyReplaced(n)).isTrue();
            assertThat(r.alreadyReplaced(node(name, A, B, world.amiB))).isFalse();
        }
        // moto keeps neither MetadataOptions nor ClientToken: what was sent is checked instead.
        List<RunInstancesRequest> launches = world.sent(RunInstancesRequest.class).stream()
                .filter(q -> !Boolean.TRUE.equals(q.dryRun()))
                .toList();
        assertThat(launches).hasSize(5);
        assertThat(launches).allSatisfy(q -> {
            assertThat(q.metadataOptions().httpTokens()).isEqualTo(HttpTokensState.REQUIRED);
            assertThat(q.clientToken()).hasSizeLessThanOrEqualTo(64);
        });
        assertThat(launches.stream().map(RunInstancesRequest::clientToken).distinct())
                .hasSize(5);
        assertThat(Ec2Replacer.strays(world.ec2, "cloud", ADDRESSES.keySet())).isEmpty();

        // m2 from A to B: a new instance on B at the same address, the old one terminated.
        String oldId = alive("m2").get(0).instanceId();
        NodeReplacer.Node m2 = node("m2", A, B, world.amiB);
        assertThat(r.blocker(m2))
                .as("its own instance holds the address: no blocker")
                .isNull();
        assertThat(r.replace(m2)).contains(world.amiB).endsWith("(terminated " + oldId + ")");
        List<Instance> now = alive("m2");
        assertThat(now).hasSize(1);
        assertThat(now.get(0).instanceId()).isNotEqualTo(oldId);
        assertThat(now.get(0).imageId()).isEqualTo(world.amiB);
        assertThat(now.get(0).privateIpAddress()).isEqualTo("10.1.0.12");
        assertThat(tag(now.get(0), "kiln:version")).isEqualTo("2.0.0");
        assertThat(instance(oldId).state().nameAsString()).isEqualTo("terminated");
        assertThat(r.alreadyReplaced(m2)).isTrue();
        assertThat(r.currentVersion("cloud", "m2")).isEqualTo(B);
        assertThat(r.currentVersion("cloud", "m1")).isEqualTo(A);
    }

    @Test
    void afterACrashBetweenLaunchAndJournalTheLaunchIsFoundByItsTags() throws Exception {
        replacer("rollout-1").replace(node("m1", null, A, world.amiA));
        // kiln serve launches m1 on B, then is killed before it journals the launch: the replacer,
        // and all it knew, is gone.
        replacer("rollout-2").replace(node("m1", A, B, world.amiB));
        Ec2Replacer resumed = replacer("rollout-2");
        assertThat(resumed.alreadyReplaced(node("m1", A, B, world.amiB))).isTrue();
        assertThat(alive("m1"))
                .singleElement()
                .satisfies(i -> assertThat(i.imageId()).isEqualTo(world.amiB));
        // A node whose crash came before the launch is not reported as replaced.
        assertThat(resumed.alreadyReplaced(node("m2", null, B, world.amiB))).isFalse();
    }

    @Test
    void instancesOfNodesNoLongerInTheInventoryAreReportedNeverTerminated() throws Exception {
        Ec2Replacer r = replacer("rollout-1");
        for (String name : List.of("m1", "w1", "w2")) {
            r.replace(node(name, null, A, world.amiA));
        }
        // One launched by hand into the cluster, without a node tag.
        String byHand = world.ec2
                .runInstances(q -> q.imageId(world.amiA)
                        .minCount(1)
                        .maxCount(1)
                        .subnetId(world.subnet)
                        .tagSpecifications(t -> t.resourceType("instance")
                                .tags(software.amazon.awssdk.services.ec2.model.Tag.builder()
                                        .key("kiln:cluster")
                                        .value("cloud")
                                        .build())))
                .instances()
                .get(0)
                .instanceId();
        Set<String> inventory = new HashSet<>(ADDRESSES.keySet());
        inventory.remove("w2");
        String w2 = alive("w2").get(0).instanceId();
        List<String> strays = Ec2Replacer.strays(world.ec2, "cloud", inventory);
        assertThat(strays).hasSize(2);
        assertThat(strays)
                .anySatisfy(s -> assertThat(s)
                        .contains(w2)
                        .contains("10.1.0.22")
                        .contains("for node w2, which is not in the inventory")
                        .contains("kiln leaves it alone"));
        assertThat(strays).anySatisfy(s -> assertThat(s).contains(byHand).contains("has no kiln:node tag"));
        assertThat(instance(w2).state().nameAsString()).isEqualTo("running");
        assertThat(Ec2Replacer.strays(world.ec2, "other", inventory)).isEmpty();
    }

    @Test
    void blockersNameTheNodeTheRegionAndWhatToFix() throws Exception {
        Ec2Replacer r = replacer("rollout-1");
        assertThat(r.blocker(node("m1", A, B, "ami-0123456789abcdef0")))
                .startsWith("node m1 (cluster cloud, region eu-west-1): ")
                .contains("AMI ami-0123456789abcdef0 of debian-node:2.0.0 is not in region eu-west-1")
                .contains("kiln publish --ami --region eu-west-1");

        String eni = world.ec2
                .createNetworkInterface(q ->
                        q.subnetId(world.subnet).privateIpAddress("10.1.0.21").description("someone's database"))
                .networkInterface()
                .networkInterfaceId();
        assertThat(r.blocker(node("w1", A, B, world.amiB)))
                .startsWith("node w1 (cluster cloud, region eu-west-1): ")
                .contains("address 10.1.0.21 is taken by network interface " + eni + " (not attached)")
                .contains("'someone's database'")
                .contains("not node w1's kiln instance");
        assertThat(r.blocker(node("w2", A, B, world.amiB))).isNull();

        NodeReplacer.Node outside =
                new NodeReplacer.Node("cloud", "w9", "02:00:00:00:00:09", "worker", "10.2.0.5", A, B, world.amiB);
        assertThat(r.blocker(outside)).contains("address 10.2.0.5 is not in subnet " + world.subnet + " (10.1.0.0/24)");
        NodeReplacer.Node reserved =
                new NodeReplacer.Node("cloud", "w9", "02:00:00:00:00:09", "worker", "10.1.0.2", A, B, world.amiB);
        assertThat(r.blocker(reserved)).contains("one AWS reserves");

        Inventory.Aws big = new Inventory.Aws(
                aws.region(), aws.subnetId(), aws.securityGroupIds(), "p4d.24xlarge", aws.iamInstanceProfile(), "ops");
        assertThat(replacer(big, "r").blocker(node("w2", A, B, world.amiB)))
                .contains("instance type p4d.24xlarge is not offered in zone eu-west-1a of subnet " + world.subnet)
                .contains("choose another aws.instanceType");

        Inventory.Aws noProfile = new Inventory.Aws(
                aws.region(), aws.subnetId(), aws.securityGroupIds(), "t3.small", "no-such-profile", null);
        assertThat(replacer(noProfile, "r").blocker(node("w2", A, B, world.amiB)))
                .contains("ec2:RunInstances")
                .contains("would fail");

        Inventory.Aws noSubnet = new Inventory.Aws(
                aws.region(), "subnet-0000000000000000f", aws.securityGroupIds(), "t3.small", null, null);
        assertThat(replacer(noSubnet, "r").blocker(node("w2", A, B, world.amiB)))
                .contains("subnet subnet-0000000000000000f does not exist in region eu-west-1")
                .contains("fix aws.subnetId of cluster cloud");
    }

    @Test
    void aLaunchThatFailsSaysWhichNodeAndLeavesNoInstance() {
        // moto launches from AMI ids that do not exist (AWS: InvalidAMIID.NotFound, which the
        // blocker finds first); an instance profile it does not know, it refuses.
        Inventory.Aws noProfile = new Inventory.Aws(
                aws.region(), aws.subnetId(), aws.securityGroupIds(), "t3.small", "no-such-profile", null);
        assertThatThrownBy(() -> replacer(noProfile, "r").replace(node("m1", null, A, world.amiA)))
                .hasMessageContaining("launching node m1 from " + world.amiA)
                .hasMessageContaining("region eu-west-1");
        assertThat(alive("m1")).isEmpty();
    }

    @Test
    void aMissingPermissionIsABlockerFoundByDryRunCalls() throws Exception {
        replacer("r").replace(node("m1", null, A, world.amiA));
        // Credentials of an IAM user that may look but not launch or terminate.
        software.amazon.awssdk.services.iam.model.AccessKey key;
        try (IamClient iam = IamClient.builder()
                .region(Region.AWS_GLOBAL)
                .endpointOverride(world.moto.endpoint())
                .credentialsProvider(world.moto.settings(Ec2World.REGION).credentialsProvider())
                .httpClientBuilder(ApacheHttpClient.builder())
                .build()) {
            iam.createUser(r -> r.userName("kiln-look"));
            iam.putUserPolicy(
                    r -> r.userName("kiln-look").policyName("describe").policyDocument("""
                            {"Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}"""));
            key = iam.createAccessKey(r -> r.userName("kiln-look")).accessKey();
        }
        try (Ec2Client looker = Ec2Client.builder()
                .region(Region.of(Ec2World.REGION))
                .endpointOverride(world.moto.endpoint())
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(key.accessKeyId(), key.secretAccessKey())))
                .httpClientBuilder(ApacheHttpClient.builder())
                .build()) {
            Ec2Replacer r = new Ec2Replacer(aws, looker, mac -> new byte[0], "r");
            String blocker;
            motoAuth("0"); // from now on moto checks every call against IAM
            try {
                blocker = r.blocker(node("m1", A, B, world.amiB));
            } finally {
                motoAuth("inf");
            }
            assertThat(blocker)
                    .startsWith("node m1 (cluster cloud, region eu-west-1): ")
                    .contains("may not call ec2:RunInstances")
                    .contains("may not call ec2:TerminateInstances")
                    .contains("allow it in their IAM policy");
        }
    }

    void motoAuth(String after) throws Exception {
        int status = http.send(
                        HttpRequest.newBuilder(world.moto.endpoint().resolve("/moto-api/reset-auth"))
                                .POST(HttpRequest.BodyPublishers.ofString(after))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
        assertThat(status).isEqualTo(200);
    }
}
