package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterCaTest {
    @TempDir
    Path tmp;

    @Test
    void theCaKilnServeMadeForAClusterIsReadButNeverMade() throws Exception {
        StateDir state = StateDir.open(tmp.resolve("state"));
        assertThat(ClusterCa.read(state, "prod")).isEmpty();
        assertThat(Files.exists(state.file("cluster-prod.json"))).isFalse();

        var master = new ClusterSecrets(state).forNode("prod", true);
        ClusterCa ca = ClusterCa.read(state, "prod").orElseThrow();
        assertThat(ca.certPem()).isEqualTo(master.get("caCert")).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(ca.keyPem()).isEqualTo(master.get("caKey")).contains("PRIVATE KEY-----");
        assertThat(ca.toString()).doesNotContain("PRIVATE");
        assertThat(ClusterCa.read(state, "staging")).isEmpty();
    }
}
