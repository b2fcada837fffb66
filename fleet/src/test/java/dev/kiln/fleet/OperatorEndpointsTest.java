package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may see the fleet: the operator endpoints against a real kiln serve, with and without the
 * credential.
 */
class OperatorEndpointsTest {
    static final List<String> OPERATOR_ENDPOINTS =
            List.of("/ui", "/ui/app.js", "/ui/app.css", "/ui/fleet.json", "/nodes", "/metrics", "/images");

    @TempDir
    Path tmp;

    static String[] basic(String user, String password) {
        return new String[] {
            "Authorization",
            "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8))
        };
    }

    @Test
    void operatorEndpointsWantTheOperatorCredentialAndNodeEndpointsDoNot() throws Exception {
        try (FleetFixture f = new FleetFixture(tmp, null)) {
            String token = f.server.operatorToken();
            String nodeToken = f.server.token(FleetFixture.M1);
            for (String path : OPERATOR_ENDPOINTS) {
                HttpResponse<String> none = f.get(path);
                assertThat(none.statusCode()).as(path + " without a credential").isEqualTo(401);
                assertThat(none.headers().firstValue("WWW-Authenticate"))
                        .as(path)
                        .hasValueSatisfying(v -> assertThat(v).startsWith("Basic realm=\"kiln operator\""));
                assertThat(none.body()).as(path).doesNotContain("m1").doesNotContain("debian-node");
                assertThat(f.get(path, "Authorization", "Bearer " + nodeToken).statusCode())
                        .as(path + " with a node's token")
                        .isEqualTo(401);
                assertThat(f.get(path, "Authorization", "Bearer " + token.substring(1))
                                .statusCode())
                        .as(path)
                        .isEqualTo(401);
                assertThat(f.get(path, basic("operator", "wrong")).statusCode())
                        .as(path)
                        .isEqualTo(401);
                assertThat(f.get(path, f.operator()).statusCode())
                        .as(path + " with the token")
                        .isEqualTo(200);
                assertThat(f.get(path, basic("operator", token)).statusCode())
                        .as(path + " with basic auth")
                        .isEqualTo(200);
            }
            // The node endpoints answer as before, with no operator credential.
            assertThat(f.get("/boot.ipxe").statusCode()).isEqualTo(200);
            assertThat(f.get("/ipxe?mac=" + FleetFixture.M1).body()).contains("kiln.token=" + nodeToken);
            assertThat(f.get("/images/debian-node/1.0.0/pxe/vmlinuz").statusCode())
                    .isEqualTo(200);
            assertThat(f.get("/metadata", "Authorization", "Bearer " + nodeToken)
                            .statusCode())
                    .isEqualTo(200);
            assertThat(f.get("/metadata").statusCode()).isEqualTo(403);
            assertThat(f.get("/metadata", f.operator()).statusCode())
                    .as("the operator token is no node token")
                    .isEqualTo(403);
            assertThat(f.report(FleetFixture.M1, "booted", null, "1.0.0", null)).isEqualTo(204);
            assertThat(f.get("/peers", "Authorization", "Bearer " + nodeToken).statusCode())
                    .isEqualTo(200);

            // /images lists the store with each version's verdict.
            JsonNode images =
                    FleetFixture.JSON.readTree(f.get("/images", f.operator()).body());
            assertThat(images)
                    .extracting(n -> n.get("image").asText())
                    .containsExactly("debian-node:1.0.0", "debian-node:1.0.1");
            assertThat(images.get(0).at("/validation/result").asText()).isEqualTo("validated");
            assertThat(images.get(1).at("/validation/result").asText()).isEqualTo("failed");
        }
    }

    @Test
    void theTokenIsMadeOnceKeptPrivateAndSurvivesARestart() throws Exception {
        String token;
        try (FleetFixture f = new FleetFixture(tmp, null)) {
            token = f.server.operatorToken();
            assertThat(f.server.newOperatorToken()).as("shown at first start").isEqualTo(token);
            assertThat(token).matches("[0-9a-f]{64}");
            Path file = f.state.resolve(OperatorAuth.TOKEN_FILE);
            assertThat(Files.readString(file).trim()).isEqualTo(token);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
                    .isEqualTo("rw-------");
            assertThat(OperatorAuth.readToken(f.state)).isEqualTo(token);
        }
        try (FleetFixture again = new FleetFixture(tmp, null)) {
            assertThat(again.server.operatorToken()).isEqualTo(token);
            assertThat(again.server.newOperatorToken()).as("not shown again").isNull();
            assertThat(again.get("/nodes", "Authorization", "Bearer " + token).statusCode())
                    .isEqualTo(200);
        }
    }

    @Test
    void aBasicAuthUserFromTheStateDirectoryMayLook() throws Exception {
        try (FleetFixture f = new FleetFixture(tmp, null)) {
            assertThat(f.get("/ui/fleet.json", basic("alice", "correct horse battery"))
                            .statusCode())
                    .isEqualTo(401);
            OperatorAuth.addUser(f.state, "alice", "correct horse battery");
            assertThat(PosixFilePermissions.toString(
                            Files.getPosixFilePermissions(f.state.resolve(OperatorAuth.USERS_FILE))))
                    .isEqualTo("rw-------");
            assertThat(Files.readString(f.state.resolve(OperatorAuth.USERS_FILE)))
                    .doesNotContain("correct horse");
            assertThat(f.get("/ui/fleet.json", basic("alice", "correct horse battery"))
                            .statusCode())
                    .isEqualTo(200);
            assertThat(f.get("/ui/fleet.json", basic("alice", "correct horse battery!"))
                            .statusCode())
                    .isEqualTo(401);
            assertThat(f.get("/ui/fleet.json", basic("bob", "correct horse battery"))
                            .statusCode())
                    .isEqualTo(401);
            // A changed password applies at once, also for a session that already authenticated.
            OperatorAuth.addUser(f.state, "alice", "another long password");
            Files.setLastModifiedTime(
                    f.state.resolve(OperatorAuth.USERS_FILE),
                    java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
            assertThat(f.get("/ui/fleet.json", basic("alice", "correct horse battery"))
                            .statusCode())
                    .isEqualTo(401);
            assertThat(f.get("/ui/fleet.json", basic("alice", "another long password"))
                            .statusCode())
                    .isEqualTo(200);
        }
    }

    @Test
    void withAnAdminListenerTheOperatorEndpointsAreThereOnly() throws Exception {
        try (FleetFixture f = new FleetFixture(tmp, "127.0.0.1:0")) {
            int admin = f.server.adminPort();
            assertThat(admin).isPositive().isNotEqualTo(f.server.port());
            String adminBase = "http://127.0.0.1:" + admin;
            for (String path : OPERATOR_ENDPOINTS) {
                assertThat(f.get(path, f.operator()).statusCode())
                        .as("main listener " + path)
                        .isEqualTo(404);
                assertThat(f.get(adminBase + path).statusCode())
                        .as("admin listener " + path)
                        .isEqualTo(200);
            }
            assertThat(f.get("/ipxe?mac=" + FleetFixture.M1).body())
                    .contains("set kiln-base " + f.base + "/images/debian-node/1.0.0");
            assertThat(f.report(FleetFixture.M1, "booted", null, "1.0.0", null)).isEqualTo(204);
        }
    }

    @Test
    void theFleetDataPutsFailedAndDriftedNodesFirstWithReasonsAndVerdicts() throws Exception {
        try (FleetFixture f = new FleetFixture(tmp, null)) {
            f.fleetInVariousStates();
            JsonNode fleet = FleetFixture.JSON.readTree(
                    f.get("/ui/fleet.json", f.operator()).body());
            JsonNode nodes = fleet.at("/clusters/0/nodes");
            List<String> order = new ArrayList<>();
            nodes.forEach(
                    n -> order.add(n.get("name").asText() + ":" + n.get("state").asText()));
            assertThat(order).containsExactly("m2:failed", "w2:drifted", "w1:booting", "m1:ready");
            assertThat(nodes.get(0).get("detail").asText()).isEqualTo("etcd join failed: <b>connection refused</b>");
            JsonNode w2 = nodes.get(1);
            assertThat(w2.get("desired").asText()).isEqualTo("debian-node:1.0.1");
            assertThat(w2.get("reported").asText()).isEqualTo("debian-node:1.0.0");
            assertThat(w2.get("drift").get(0).asText())
                    .isEqualTo("runs debian-node:1.0.0, inventory wants debian-node:1.0.1");
            JsonNode m1 = nodes.get(3);
            assertThat(m1.get("current").asText())
                    .as("given in its boot script")
                    .isEqualTo("debian-node:1.0.0");
            assertThat(m1.get("bootSeconds").asDouble()).isBetween(0.0, 30.0);
            assertThat(m1.get("readySeconds").asDouble()).isBetween(0.0, 30.0);
            assertThat(m1.get("checks"))
                    .extracting(
                            c -> c.get("check").asText() + "=" + c.get("status").asText())
                    .containsExactly("kernel-version=pass", "units-active=pass");
            assertThat(fleet.get("summary").toString())
                    .isEqualTo("{\"nodes\":4,\"failed\":1,\"drifted\":1,\"ready\":1,\"silent\":0}");
            assertThat(fleet.get("versions"))
                    .extracting(v -> v.get("image").asText()
                            + " "
                            + v.at("/validation/result").asText()
                            + " desired by "
                            + v.get("desiredBy").asInt()
                            + ", running on "
                            + v.get("runningOn").asInt())
                    .containsExactly(
                            "debian-node:1.0.0 validated desired by 3, running on 4",
                            "debian-node:1.0.1 failed desired by 1, running on 0");
            // Not built yet: empty, never made up.
            assertThat(fleet.get("channels")).isEmpty();
            assertThat(fleet.get("rollouts")).isEmpty();

            // An inventory edit after m1 booted: it still boots 1.0.0 (current) but should run
            // 1.0.1.
            Files.writeString(
                    f.inventory,
                    FleetFixture.INVENTORY.replace("    image: debian-node:1.0.0\n", "    image: debian-node:1.0.1\n"));
            f.server.inventoryWatcher().poll();
            JsonNode after = FleetFixture.JSON.readTree(
                    f.get("/ui/fleet.json", f.operator()).body());
            JsonNode m1After = null;
            for (JsonNode n : after.at("/clusters/0/nodes")) {
                if (n.get("name").asText().equals("m1")) {
                    m1After = n;
                }
            }
            assertThat(m1After.get("state").asText()).isEqualTo("drifted");
            assertThat(m1After.get("drift").get(0).asText())
                    .isEqualTo("boots debian-node:1.0.0, inventory wants debian-node:1.0.1");
        }
    }
}
