package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InventoryLoaderTest {
    @TempDir
    Path tmp;

    ImageStore store;
    Path file;

    @BeforeEach
    void store() throws Exception {
        store = new ImageStore(tmp.resolve("store"));
        TestStore.pxeVersion(store, "debian-node", "1.0.0", 16);
        TestStore.pxeVersion(store, "debian-node", "2.0.0", 16);
        file = tmp.resolve("inventory.yaml");
    }

    static final String VALID = """
            clusters:
              - name: lab
                domain: lab.example
                image: debian-node:1.0.0
                waitTimeout: 180
                metadata: {ntpServer: abc, podCidr: 10.244.0.0/16}
                nodes:
                  - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15}
                  - {mac: 52-54-00-12-34-02, name: m2, role: master, address: 10.0.2.16, image: "debian-node:2.0.0"}
                  - {mac: 52:54:00:12:34:03, name: w1, role: worker, address: 10.0.2.17, metadata: {podCidr: 10.244.1.0/24}}
              - name: edge
                image: debian-node:1.0.0
                nodes:
                  - {mac: "52:54:00:AA:00:01", name: m1, role: master, address: "fd00::1"}
            """;

    @Test
    void aValidInventoryAssignsRolesImagesAndCanonicalMacs() throws Exception {
        Inventory inv = InventoryLoader.parse(file, VALID, store);
        assertThat(inv.members())
                .extracting(Inventory.Member::mac)
                .containsExactly("52:54:00:12:34:01", "52:54:00:12:34:02", "52:54:00:12:34:03", "52:54:00:aa:00:01");
        assertThat(inv.members())
                .extracting(Inventory.Member::bootstrapRole)
                .containsExactly("init-master", "join-master", "join-worker", "init-master");
        assertThat(inv.member("52-54-00-12-34-02").image()).isEqualTo(new ImageRef("debian-node", "2.0.0"));
        assertThat(inv.member("52:54:00:12:34:03").image()).isEqualTo(new ImageRef("debian-node", "1.0.0"));
        assertThat(inv.member("525400aa0001").cluster().name()).isEqualTo("edge");
        assertThat(inv.member("52:54:00:99:99:99")).isNull();
        assertThat(inv.clusterCount()).isEqualTo(2);
    }

    /** The example the README points new users at loads as it is, once its image is built. */
    @Test
    void theShippedExampleInventoryLoads() throws Exception {
        Path example = Path.of(System.getProperty("kiln.repo.root", "..")).resolve("examples/inventory.yaml");
        TestStore.pxeVersion(store, "debian-node", "1.0.0-20261127.1", 16);
        Inventory inv = InventoryLoader.load(example, store);
        assertThat(inv.clusterCount()).isEqualTo(1);
        assertThat(inv.members())
                .extracting(Inventory.Member::bootstrapRole)
                .containsExactly("init-master", "join-master", "join-master", "join-worker", "join-worker");
        assertThat(inv.members())
                .allSatisfy(m -> assertThat(m.image()).isEqualTo(new ImageRef("debian-node", "1.0.0-20261127.1")));
    }

    @Test
    void metadataDocumentOfANode() throws Exception {
        Inventory inv = InventoryLoader.parse(file, VALID, store);
        Map<String, String> w1 = NodeMetadata.of(inv, inv.member("52:54:00:12:34:03"), "http://10.0.2.2:8080");
        assertThat(w1)
                .containsEntry("name", "w1")
                .containsEntry("fqdn", "w1.lab.example")
                .containsEntry("role", "join-worker")
                .containsEntry("masterAddr", "10.0.2.15")
                .containsEntry("nodes", "m1 m2 w1")
                .containsEntry("nodeAddresses", "10.0.2.15 10.0.2.16 10.0.2.17")
                .containsEntry("masters", "m1 m2")
                .containsEntry("etcdInitialCluster", "m1=http://10.0.2.15:2380,m2=http://10.0.2.16:2380")
                .containsEntry("image", "debian-node:1.0.0")
                .containsEntry("imageVersion", "1.0.0")
                .containsEntry("waitTimeout", "180")
                .containsEntry("server", "http://10.0.2.2:8080")
                .containsEntry("ntpServer", "abc")
                .containsEntry("podCidr", "10.244.1.0/24");
        Map<String, String> edge = NodeMetadata.of(inv, inv.member("52:54:00:aa:00:01"), "http://s");
        assertThat(edge)
                .containsEntry("fqdn", "m1")
                .containsEntry("domain", "")
                .containsEntry("etcdInitialCluster", "m1=http://[fd00::1]:2380")
                .containsEntry("waitTimeout", "300");
    }

    @Test
    void unknownFieldsFailWithFileLineAndFieldPath() {
        String text = VALID.replace("name: w1, role: worker", "name: w1, rol: worker");
        assertThatThrownBy(() -> InventoryLoader.parse(file, text, store))
                .isInstanceOf(InventoryException.class)
                .hasMessageContaining(file + ":10:")
                .hasMessageContaining("clusters[0].nodes[2].rol: unknown field 'rol'");
    }

    @Test
    void wrongTypesAndSyntaxErrorsPointIntoTheFile() {
        assertThatThrownBy(() ->
                        InventoryLoader.parse(file, VALID.replace("waitTimeout: 180", "waitTimeout: soon"), store))
                .hasMessageContaining(file + ":5:")
                .hasMessageContaining("clusters[0].waitTimeout: expected a whole number");
        assertThatThrownBy(() -> InventoryLoader.parse(file, "clusters: [\n  {name: lab", store))
                .hasMessageContaining("YAML syntax error");
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file, VALID.replace("metadata: {ntpServer: abc,", "metadata: {ntpServer: [a, b],"), store))
                .hasMessageContaining("clusters[0].metadata.ntpServer");
    }

    @Test
    void everySemanticMistakeIsReportedAtOnceNamingTheNode() {
        String text = """
                clusters:
                  - name: lab
                    image: debian-node:1.0.0
                    metadata: {role: boss}
                    nodes:
                      - {mac: "52:54:00:12:34:01", name: m1, role: worker, address: 10.0.2.15}
                      - {mac: "52-54-00-12-34-01", name: m1, role: boss, address: 10.0.2.300}
                      - {mac: "not-a-mac", name: w2, role: worker, address: 10.0.2.17, image: "debian-node:9.9.9"}
                      - {mac: "52:54:00:12:34:04", name: W3, role: worker, address: 10.0.2.15, image: nocolon}
                """;
        assertThatThrownBy(() -> InventoryLoader.parse(file, text, store))
                .isInstanceOfSatisfying(
                        InventoryException.class,
                        e -> assertThat(e.problems())
                                .extracting(Object::toString)
                                .anySatisfy(p -> assertThat(p)
                                        .contains(":4:")
                                        .contains("metadata key 'role' is set by kiln serve"))
                                .anySatisfy(p -> assertThat(p)
                                        .contains(":7:")
                                        .contains("MAC 52:54:00:12:34:01 is already used by clusters[0].nodes[0]"))
                                .anySatisfy(
                                        p -> assertThat(p).contains("node name 'm1' is already used in cluster lab"))
                                .anySatisfy(p -> assertThat(p).contains("expected role master or worker, got 'boss'"))
                                .anySatisfy(p -> assertThat(p).contains("'10.0.2.300' is not an IP address"))
                                .anySatisfy(p -> assertThat(p).contains("'not-a-mac' is not a MAC address"))
                                .anySatisfy(p -> assertThat(p)
                                        .contains(":8:")
                                        .contains("node w2 (cluster lab): image debian-node:9.9.9 is not in the store"))
                                .anySatisfy(p -> assertThat(p).contains("'W3' is not a valid node name"))
                                .anySatisfy(p -> assertThat(p)
                                        .contains("address 10.0.2.15 is already used by clusters[0].nodes[0]"))
                                .anySatisfy(p -> assertThat(p).contains("expected an image reference NAME:VERSION"))
                                .anySatisfy(p -> assertThat(p).contains("cluster lab has no master")));
    }

    @Test
    void aMissingDefaultImageNamesTheNodesThatUseIt() {
        String text =
                VALID.replace("image: debian-node:1.0.0\n    waitTimeout", "image: debian-node:0.1\n    waitTimeout");
        assertThatThrownBy(() -> InventoryLoader.parse(file, text, store))
                .hasMessageContaining(
                        "cluster lab (default image of m1, w1): image debian-node:0.1 is not in the store");
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file,
                        "clusters:\n  - {name: x, nodes: [{mac: '52:54:00:00:00:01', "
                                + "name: m1, role: master, address: 10.0.0.1}]}\n",
                        store))
                .hasMessageContaining("node m1 (cluster x) has no image, and cluster x has no default 'image'");
    }

    @Test
    void emptyOrMissingFiles() {
        assertThatThrownBy(() -> InventoryLoader.parse(file, "", store)).hasMessageContaining("the inventory is empty");
        assertThatThrownBy(() -> InventoryLoader.parse(file, "clusters: []", store))
                .hasMessageContaining("expected at least one cluster");
        assertThatThrownBy(() -> InventoryLoader.load(tmp.resolve("nope.yaml"), store))
                .hasMessageContaining("inventory file not found");
        assertThatThrownBy(() ->
                        InventoryLoader.parse(file, "clusters:\n  - {name: lab, image: debian-node:1.0.0}\n", store))
                .hasMessageContaining("clusters[0].nodes: missing required field");
        assertThatThrownBy(() ->
                        InventoryLoader.parse(file, VALID.replace("name: w1, role: worker, ", "name: w1, "), store))
                .hasMessageContaining(file + ":10:")
                .hasMessageContaining("clusters[0].nodes[2].role: missing required field");
    }
}
