package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.store.ImageStore;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The inventory's bmc: entries: what is accepted, and a password written into the file refused. */
class InventoryBmcTest {
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

    private static String inventory(String bmc) {
        return """
                clusters:
                  - name: lab
                    image: debian-node:1.0.0
                    nodes:
                      - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15,
                         bmc: %s}
                """.formatted(bmc);
    }

    @Test
    void ipmiRedfishAndManualEntriesAreKeptOnTheNode() throws Exception {
        Inventory.Bmc ipmi = InventoryLoader.parse(
                        file,
                        inventory(
                                "{driver: ipmi, address: \"10.0.9.11:623\", user: admin, passwordFile: /etc/kiln/m1.pass,"
                                        + " cipherSuite: 17}"),
                        store)
                .members()
                .get(0)
                .node()
                .bmc();
        assertThat(ipmi.driver()).isEqualTo("ipmi");
        assertThat(ipmi.address()).isEqualTo("10.0.9.11:623");
        assertThat(ipmi.passwordFile()).isEqualTo("/etc/kiln/m1.pass");
        assertThat(ipmi.cipherSuite()).isEqualTo(17);
        Inventory.Bmc redfish = InventoryLoader.parse(
                        file,
                        inventory(
                                "{driver: redfish, address: \"https://bmc-m1.lab:8443\", user: root, passwordEnv: M1_BMC,"
                                        + " systemId: System.Embedded.1, caFile: /etc/kiln/bmc-ca.pem}"),
                        store)
                .members()
                .get(0)
                .node()
                .bmc();
        assertThat(redfish.systemId()).isEqualTo("System.Embedded.1");
        assertThat(InventoryLoader.parse(file, inventory("{driver: manual}"), store)
                        .members()
                        .get(0)
                        .node()
                        .bmc()
                        .driver())
                .isEqualTo("manual");
    }

    @Test
    void aPasswordInTheInventoryIsRefusedWithWhereItGoesAndNeverRepeated() {
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file,
                        inventory("{driver: ipmi, address: 10.0.9.11, user: admin, password: hunter2-secret}"),
                        store))
                .isInstanceOf(InventoryException.class)
                .hasMessageContaining("inventory.yaml:6:")
                .hasMessageContaining("clusters[0].nodes[0].bmc.password")
                .hasMessageContaining("passwordFile")
                .hasMessageContaining("passwordEnv")
                .hasMessageNotContaining("hunter2-secret");
    }

    @Test
    void missingAndWrongFieldsAreNamed() {
        assertThatThrownBy(() -> InventoryLoader.parse(file, inventory("{driver: ilo, address: x}"), store))
                .hasMessageContaining("bmc.driver")
                .hasMessageContaining("ipmi, redfish or manual, got 'ilo'");
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file, inventory("{driver: redfish, address: bmc-m1, user: root," + " passwordEnv: M1}"), store))
                .hasMessageContaining("bmc.address")
                .hasMessageContaining("https://HOST");
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file,
                        inventory("{driver: ipmi, address: 10.0.9.11, user: a," + " passwordFile: /a, passwordEnv: B}"),
                        store))
                .hasMessageContaining("one of passwordFile");
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file,
                        inventory("{driver: redfish, address: \"https://b\", user: a,"
                                + " passwordEnv: B, insecure: true, caFile: /ca.pem}"),
                        store))
                .hasMessageContaining("bmc.insecure");
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file,
                        inventory("{driver: ipmi, address: 10.0.9.11, user: a, passwordFile: /a, cipherSuite: 42}"),
                        store))
                .hasMessageContaining("bmc.cipherSuite")
                .hasMessageContaining("from 0 to 17");
        assertThatThrownBy(() -> InventoryLoader.parse(
                        file,
                        inventory("{driver: redfish, address: \"https://b\", user: a, passwordEnv: B, cipherSuite: 3}"),
                        store))
                .hasMessageContaining("bmc.cipherSuite")
                .hasMessageContaining("ipmi setting");
    }
}
