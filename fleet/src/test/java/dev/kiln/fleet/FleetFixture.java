package dev.kiln.fleet;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A real kiln serve over a hand-made store with two versions (1.0.0 validated, 1.0.1 failed its
 * validation), and a cluster whose nodes report like real agents: through POST /status with their
 * own tokens.
 */
final class FleetFixture implements AutoCloseable {
    static final String M1 = "52:54:00:aa:00:01";
    static final String M2 = "52:54:00:aa:00:02";
    static final String W1 = "52:54:00:aa:00:03";
    static final String W2 = "52:54:00:aa:00:04";
    static final String INVENTORY = """
            clusters:
              - name: lab
                image: debian-node:1.0.0
                nodes:
                  - {mac: "52:54:00:aa:00:01", name: m1, role: master, address: 10.0.2.15}
                  - {mac: "52:54:00:aa:00:02", name: m2, role: master, address: 10.0.2.16}
                  - {mac: "52:54:00:aa:00:03", name: w1, role: worker, address: 10.0.2.17}
                  - {mac: "52:54:00:aa:00:04", name: w2, role: worker, address: 10.0.2.18, image: "debian-node:1.0.1"}
            """;
    static final ObjectMapper JSON = Json.MAPPER;

    final Path dir;
    final ImageStore store;
    final Path inventory;
    final Path state;
    final KilnServer server;
    final String base;
    final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    FleetFixture(Path dir, String adminListen) throws Exception {
        this.dir = dir;
        store = new ImageStore(dir.resolve("store"));
        TestStore.pxeVersion(store, "debian-node", "1.0.0", 64 * 1024);
        TestStore.pxeVersion(store, "debian-node", "1.0.1", 64 * 1024);
        validation("debian-node:1.0.0", "kv000001", "validated");
        validation("debian-node:1.0.1", "kv000002", "failed");
        inventory = dir.resolve("inventory.yaml");
        Files.writeString(inventory, INVENTORY);
        state = dir.resolve("state");
        KilnServer.Options o = new KilnServer.Options(inventory, store, "127.0.0.1", 0, null, state, 100);
        server = KilnServer.start(adminListen == null ? o : o.withAdminListen(adminListen));
        base = "http://127.0.0.1:" + server.port();
    }

    /** validation.json as kiln validate writes it (ValidationRecord, in the validator module). */
    private void validation(String image, String run, String result) throws Exception {
        Files.writeString(store.dir(ImageRef.parse(image)).resolve("validation.json"), """
                {"image": "%s", "runs": [{"runId": "%s", "result": "%s", "provider": "qemu-pxe", "masters": 1,
                 "workers": 2, "startedAt": "2026-11-28T10:00:00Z", "seconds": 95.5, "reportSha256": "%s"}]}
                """.formatted(
                        image, run, result, "0".repeat(64)));
    }

    /** A node agent's report, sent with the node's own token. */
    int report(String mac, String step, String detail, String imageVersion, String kernel) throws Exception {
        Map<String, Object> report = new java.util.LinkedHashMap<>();
        report.put("step", step);
        if (detail != null) {
            report.put("detail", detail);
        }
        if (imageVersion != null) {
            report.put("image", Map.of("name", "debian-node", "version", imageVersion));
        }
        if (kernel != null) {
            report.put("kernel", kernel);
        }
        String body = JSON.writeValueAsString(report);
        return http.send(
                        HttpRequest.newBuilder(URI.create(base + "/status"))
                                .header("Authorization", "Bearer " + server.token(mac))
                                .POST(HttpRequest.BodyPublishers.ofString(body))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    /** Check results, as the agent posts them after ready. */
    int checks(String mac, String json) throws Exception {
        return http.send(
                        HttpRequest.newBuilder(URI.create(base + "/checks"))
                                .header("Authorization", "Bearer " + server.token(mac))
                                .POST(HttpRequest.BodyPublishers.ofString(json))
                                .build(),
                        HttpResponse.BodyHandlers.discarding())
                .statusCode();
    }

    HttpResponse<String> get(String url, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url.startsWith("http") ? url : base + url))
                .timeout(Duration.ofSeconds(10));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    String[] operator() {
        return new String[] {"Authorization", "Bearer " + server.operatorToken()};
    }

    /**
     * The states the page must tell apart: m1 ready (its checks passed) after a boot through this
     * server, m2 failed in its bootstrap, w1 still booting, w2 running 1.0.0 where the inventory
     * wants 1.0.1 (drifted).
     */
    void fleetInVariousStates() throws Exception {
        check(get("/ipxe?mac=" + M1).statusCode() == 200, "boot script of m1");
        check(report(M1, "booted", null, "1.0.0", "6.1.0-test") == 204, "m1 booted");
        check(report(M1, "ready", "etcd member up", null, null) == 204, "m1 ready");
        check(checks(M1, """
                {"checks": [{"check": "kernel-version", "scope": "node", "status": "pass", "detail": "running 6.1.0-test"},
                 {"check": "units-active", "scope": "node", "status": "pass", "detail": "active: containerd.service"}]}""") == 204, "m1 checks");
        check(report(M2, "booted", null, "1.0.0", "6.1.0-test") == 204, "m2 booted");
        check(report(M2, "failed", "etcd join failed: <b>connection refused</b>", null, null) == 204, "m2 failed");
        check(report(W1, "metadata-fetched", null, "1.0.0", "6.1.0-test") == 204, "w1 booting");
        check(report(W2, "ready", "containerd up", "1.0.0", "6.1.0-test") == 204, "w2 ready on the old version");
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError("fixture step failed: " + what);
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
