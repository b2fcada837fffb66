package dev.kiln.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.fleet.InventoryException;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.NodeView;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln serve (the real server, on loopback) resolving NAME@ENV from the promotion records of its
 * store, and refusing revoked versions: what the cli's serve command plugs together.
 */
class ServeChannelsTest {
    static final String M1 = "52:54:00:12:34:01";
    static final String W1 = "52:54:00:12:34:02";
    static final String INVENTORY = """
            clusters:
              - name: lab
                image: debian-node@prod
                nodes:
                  - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15}
                  - {mac: "52:54:00:12:34:02", name: w1, role: worker, address: 10.0.2.16, image: "debian-node:1.0.0"}
            """;
    static final String ENVIRONMENTS = "environments:\n  - name: prod\n";

    @TempDir
    Path tmp;

    ImageStore store;
    Environments envs;
    Releases releases;
    KilnServer server;
    Path inventory;
    final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void setUp() throws Exception {
        store = new ImageStore(tmp.resolve("store"));
        Fixtures.version(store, "debian-node", "1.0.0");
        Fixtures.version(store, "debian-node", "1.0.1");
        envs = EnvironmentsLoader.parse(tmp.resolve("environments.yaml"), ENVIRONMENTS);
        releases = new Releases(
                new LocalReleaseStore(store), java.time.Clock.systemUTC(), new Identity("alice", "KILN_ACTOR"), null);
        inventory = tmp.resolve("inventory.yaml");
        Files.writeString(inventory, INVENTORY);
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    KilnServer start() throws Exception {
        server = KilnServer.start(
                new KilnServer.Options(inventory, store, "127.0.0.1", 0, null, tmp.resolve("state"), 100),
                new ReleaseChannels(new LocalReleaseStore(store)));
        return server;
    }

    String get(String path) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                        .header("Authorization", "Bearer " + server.operatorToken())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    Map<String, NodeView> nodes() throws Exception {
        List<NodeView> rows = Json.MAPPER.readValue(get("/nodes"), new TypeReference<List<NodeView>>() {});
        return Map.of(rows.get(0).name(), rows.get(0), rows.get(1).name(), rows.get(1));
    }

    @Test
    void aChannelThatPointsNowhereIsAnInventoryErrorNamingIt() {
        assertThatThrownBy(this::start)
                .isInstanceOf(InventoryException.class)
                .hasMessageContaining(
                        "inventory.yaml:3:5: clusters[0].image: cluster lab (default image of m1): channel debian-node@prod points at no"
                                + " version in the promotion records of the store "
                                + store.root()
                                + " (kiln promote debian-node:VERSION --to prod sets it)");
    }

    @Test
    void serveBootsWhatTheChannelPointsAtFollowsPromotionsAndRefusesRevokedVersions() throws Exception {
        releases.promote(envs, new ImageRef("debian-node", "1.0.0"), "prod", null, Map.of());
        start();
        assertThat(get("/ipxe?mac=" + M1)).contains("/images/debian-node/1.0.0");
        NodeView m1 = nodes().get("m1");
        assertThat(m1.channel()).isEqualTo("debian-node@prod");
        assertThat(m1.assignedImage()).isEqualTo("debian-node:1.0.0");
        assertThat(nodes().get("w1").channel()).isNull();
        // The fleet page lists the channel, from the same records.
        assertThat(server.fleet().channels())
                .extracting(c -> c.image() + "@" + c.environment() + "=" + c.version())
                .containsExactly("debian-node@prod=1.0.0");

        // A promotion moves the channel; kiln serve picks it up when it next reads the records.
        // m1 already runs 1.0.0: it is now drifted, and a reboot keeps it on 1.0.0 until a
        // rollout re-points it (done here as the rollout controller does).
        releases.promote(envs, new ImageRef("debian-node", "1.0.1"), "prod", null, Map.of());
        server.inventoryWatcher().refreshChannels();
        assertThat(nodes().get("m1").assignedImage()).isEqualTo("debian-node:1.0.1");
        assertThat(nodes().get("m1").currentImage()).isEqualTo("debian-node:1.0.0");
        assertThat(nodes().get("m1").drifted()).isTrue();
        assertThat(get("/ipxe?mac=" + M1)).contains("/images/debian-node/1.0.0").doesNotContain("1.0.1");
        server.repoint(M1, new ImageRef("debian-node", "1.0.1"), "test-rollout");
        assertThat(get("/ipxe?mac=" + M1)).contains("/images/debian-node/1.0.1").doesNotContain("1.0.0");
        assertThat(nodes().get("m1").drifted()).isFalse();
        assertThat(server.fleet().channels())
                .extracting(c -> c.image() + "@" + c.environment() + "=" + c.version())
                .containsExactly("debian-node@prod=1.0.1");

        // Revoked: the channel's node and a node pinned to the version are refused, with why.
        releases.revoke(new ImageRef("debian-node", "1.0.1"), "CVE-2026-1234 in containerd");
        releases.revoke(new ImageRef("debian-node", "1.0.0"), "kernel panic on NVMe");
        server.inventoryWatcher().refreshChannels();
        assertThat(get("/ipxe?mac=" + M1))
                .contains("echo kiln: not booting "
                        + M1
                        + ": m1 of cluster lab: image debian-node:1.0.1"
                        + " was revoked (revoked by alice at ")
                .contains(": CVE-2026-1234 in containerd)")
                .doesNotContain("/images/");
        assertThat(get("/ipxe?mac=" + W1))
                .contains("image debian-node:1.0.0 was revoked")
                .contains("kernel panic on NVMe")
                .doesNotContain("/images/");

        // A restarted server refuses them too (the records are read at start).
        server.close();
        server = null;
        start();
        assertThat(get("/ipxe?mac=" + W1)).contains("image debian-node:1.0.0 was revoked");
    }
}
