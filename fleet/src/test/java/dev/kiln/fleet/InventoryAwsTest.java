package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.store.ImageStore;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster's aws: entry: kept as written, its nodes known by a MAC derived from their names, and
 * wrong or missing fields named.
 */
class InventoryAwsTest {
    @TempDir
    Path tmp;

    ImageStore store;
    Path file;

    @BeforeEach
    void store() throws Exception {
        store = new ImageStore(tmp.resolve("store"));
        TestStore.pxeVersion(store, "debian-node", "1.0.0", 16);
        file = tmp.resolve("inventory.yaml");
    }

    private static String inventory(String aws, String nodes) {
        return """
                clusters:
                  - name: cloud
                    image: debian-node:1.0.0
                    aws: %s
                    nodes:
                %s""".formatted(aws, nodes);
    }

    private static final String AWS = "{region: eu-west-1, subnetId: subnet-0a1b2c3d, securityGroupIds: [sg-0a1b2c3d],"
            + " instanceType: m6i.large, iamInstanceProfile: kiln-node, keyName: ops}";

    private static final String NODES = """
                      - {name: m1, role: master, address: 10.1.0.10}
                      - {name: w1, role: worker, address: 10.1.0.20}
                """;

    @Test
    void theAwsEntryIsKeptAndNodesWithoutMacGetAStableLocallyAdministeredOne() throws Exception {
        Inventory inv = InventoryLoader.parse(file, inventory(AWS, NODES), store);
        Inventory.Cluster c = inv.members().get(0).cluster();
        assertThat(c.aws())
                .isEqualTo(new Inventory.Aws(
                        "eu-west-1", "subnet-0a1b2c3d", List.of("sg-0a1b2c3d"), "m6i.large", "kiln-node", "ops"));
        List<String> macs = inv.members().stream().map(Inventory.Member::mac).toList();
        assertThat(macs).doesNotHaveDuplicates().allMatch(m -> m.matches("02(:[0-9a-f]{2}){5}"));
        assertThat(macs.get(0)).isEqualTo(MacAddress.derived("cloud", "m1"));
        // Stable: the same names give the same MAC (and so the same token) on every load.
        assertThat(InventoryLoader.parse(file, inventory(AWS, NODES), store)
                        .members()
                        .get(0)
                        .mac())
                .isEqualTo(macs.get(0));
        assertThat(inv.member(macs.get(1)).name()).isEqualTo("w1");
        // The metadata document carries that MAC, as for a PXE node.
        assertThat(NodeMetadata.of(inv, inv.members().get(0), "http://serve:8080"))
                .containsEntry("mac", macs.get(0))
                .containsEntry("address", "10.1.0.10");
        // Another cluster's node of the same name is another MAC.
        assertThat(MacAddress.derived("other", "m1")).isNotEqualTo(macs.get(0));
    }

    @Test
    void keyNameAndProfileAreOptionalAndAGivenMacIsKept() throws Exception {
        Inventory inv = InventoryLoader.parse(
                file,
                inventory(
                        "{region: us-east-1, subnetId: subnet-0a1b2c3d, securityGroupIds: [sg-0a1b2c3d, sg-1a1b2c3d],"
                                + " instanceType: t3.small}",
                        "      - {mac: \"0a:00:00:00:00:01\", name: m1, role: master, address: 10.1.0.10}\n"),
                store);
        assertThat(inv.members().get(0).mac()).isEqualTo("0a:00:00:00:00:01");
        assertThat(inv.members().get(0).cluster().aws().keyName()).isNull();
    }

    @Test
    void aClusterWithoutAwsStillNeedsMacs() {
        assertThatThrownBy(() -> InventoryLoader.parse(file, """
                        clusters:
                          - name: lab
                            image: debian-node:1.0.0
                            nodes:
                              - {name: m1, role: master, address: 10.0.2.15}
                        """, store))
                .isInstanceOf(InventoryException.class)
                .hasMessageContaining("clusters[0].nodes[0].mac")
                .hasMessageContaining("missing required field");
    }

    @Test
    void missingAndWrongFieldsAreNamedWithWhatIsExpected() {
        assertThatThrownBy(() -> InventoryLoader.parse(file, inventory("{region: eu-west-1}", NODES), store))
                .isInstanceOf(InventoryException.class)
                .hasMessageContaining("clusters[0].aws.subnetId: missing required field")
                .hasMessageContaining("clusters[0].aws.securityGroupIds: missing required field")
                .hasMessageContaining("clusters[0].aws.instanceType: missing required field");
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file,
                        inventory(
                                "{region: Ireland, subnetId: net-1, securityGroupIds: [default],"
                                        + " instanceType: large, iamInstanceProfile: \"arn:aws:iam::1:role/x\"}",
                                NODES),
                        store))
                .hasMessageContaining("aws.region")
                .hasMessageContaining("'Ireland' is not an AWS region like eu-west-1")
                .hasMessageContaining("aws.subnetId")
                .hasMessageContaining("aws.securityGroupIds[0]")
                .hasMessageContaining("'large' is not an EC2 instance type")
                .hasMessageContaining("aws.iamInstanceProfile");
        assertThatThrownBy(() -> InventoryLoader.parse(file, inventory(AWS.replace("keyName", "keyNme"), NODES), store))
                .hasMessageContaining("keyNme");
    }

    @Test
    void poolsNameAnAutoScalingGroupEachAndBadOnesAreNamed() throws Exception {
        String pools =
                AWS.replace("keyName: ops}", "keyName: ops, pools: [{name: workers-a, autoScalingGroup: cloud-wa}]}");
        Inventory.Aws aws = InventoryLoader.parse(file, inventory(pools, NODES), store)
                .members()
                .get(0)
                .cluster()
                .aws();
        assertThat(aws.pools()).containsExactly(new Inventory.Pool("workers-a", "cloud-wa"));
        assertThat(aws.pool("workers-a").autoScalingGroup()).isEqualTo("cloud-wa");
        assertThat(aws.pool("nope")).isNull();
        String bad = AWS.replace(
                "keyName: ops}",
                "keyName: ops, pools: [{name: Workers_A}, {name: b, autoScalingGroup: \"arn:aws:autoscaling:x\"},"
                        + " {name: b, autoScalingGroup: g}]}");
        assertThatThrownBy(() -> InventoryLoader.parse(file, inventory(bad, NODES), store))
                .isInstanceOf(InventoryException.class)
                .hasMessageContaining("clusters[0].aws.pools[0].name")
                .hasMessageContaining("'Workers_A': expected a pool name of lowercase letters")
                .hasMessageContaining("clusters[0].aws.pools[0].autoScalingGroup")
                .hasMessageContaining("missing required field")
                .hasMessageContaining("clusters[0].aws.pools[1].autoScalingGroup")
                .hasMessageContaining("(not an ARN)")
                .hasMessageContaining("clusters[0].aws.pools[2].name")
                .hasMessageContaining("pool 'b' is listed twice");
    }

    @Test
    void anEc2NodeNeedsAnIpv4AddressAndNoBmc() {
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file,
                        inventory(
                                AWS,
                                "      - {name: m1, role: master, address: \"fd00::10\"}\n"
                                        + "      - {name: w1, role: worker, address: 10.1.0.20, bmc: {driver: manual}}\n"),
                        store))
                .hasMessageContaining("clusters[0].nodes[0].address")
                .hasMessageContaining("'fd00::10' is not an IPv4 address")
                .hasMessageContaining("clusters[0].nodes[1].bmc")
                .hasMessageContaining("remove the bmc entry");
    }

    @Test
    void aGeneratedInventoryWithAnAwsEntryWritesAndLoadsBack() throws Exception {
        Inventory.Aws aws =
                new Inventory.Aws("eu-west-1", "subnet-0a1b2c3d", List.of("sg-0a1b2c3d"), "m6i.large", null, null);
        new Inventory.Document(List.of(new Inventory.Cluster(
                        "cloud",
                        null,
                        "debian-node:1.0.0",
                        null,
                        Map.of(),
                        List.of(new Inventory.Node(null, "m1", "master", "10.1.0.10", null, null)),
                        aws)))
                .write(file);
        assertThat(InventoryLoader.load(file, store).members().get(0).cluster().aws())
                .isEqualTo(aws);
    }
}
