package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.util.Hashing;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real server on 127.0.0.1 (ephemeral port) over a hand-made store; a real HTTP client. */
class KilnServerTest {
    static final String M1 = "52:54:00:12:34:01";
    static final String M2 = "52:54:00:12:34:02";
    static final String W1 = "52:54:00:12:34:03";
    static final String NOPXE = "52:54:00:12:34:09";
    static final String O1 = "52:54:00:bb:00:01";
    static final String INVENTORY = """
            clusters:
              - name: lab
                domain: lab.example
                image: debian-node:1.0.0
                waitTimeout: 120
                metadata: {clusterKey: fromCluster, shared: cluster}
                nodes:
                  - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15, metadata: {shared: node}}
                  - {mac: "52:54:00:12:34:02", name: m2, role: master, address: 10.0.2.16}
                  - {mac: "52:54:00:12:34:03", name: w1, role: worker, address: 10.0.2.17}
                  - {mac: "52:54:00:12:34:09", name: nopxe, role: worker, address: 10.0.2.19, image: "nopxe:1.0"}
              - name: other
                image: debian-node:1.0.0
                nodes:
                  - {mac: "52:54:00:bb:00:01", name: o1, role: master, address: 10.0.3.15}
            """;
    static final ObjectMapper JSON = Json.MAPPER;

    @TempDir
    Path tmp;

    ImageStore store;
    Path inventory;
    Path state;
    byte[] rootfs;
    KilnServer server;
    String base;
    final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @BeforeEach
    void start() throws Exception {
        store = new ImageStore(tmp.resolve("store"));
        TestStore.pxeVersion(store, "debian-node", "1.0.0", 1024 * 1024 + 123);
        rootfs = Files.readAllBytes(store.dir(dev.kiln.core.store.ImageRef.parse("debian-node:1.0.0"))
                .resolve("pxe/rootfs.squashfs"));
        TestStore.version(store, "nopxe", "1.0", Map.of("disk/disk.raw", new byte[] {1, 2, 3}));
        inventory = tmp.resolve("inventory.yaml");
        Files.writeString(inventory, INVENTORY);
        state = tmp.resolve("state");
        startServer();
    }

    void startServer() throws Exception {
        server = KilnServer.start(new KilnServer.Options(inventory, store, "127.0.0.1", 0, null, state, 100));
        base = "http://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
            server = null;
        }
    }

    HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<byte[]> getBytes(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<String> post(String path, String body, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(Duration.ofSeconds(10))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static String[] bearer(String token) {
        return new String[] {"Authorization", "Bearer " + token};
    }

    Map<String, String> metadataOf(String mac) throws Exception {
        HttpResponse<String> r = get("/metadata", bearer(server.token(mac)));
        assertThat(r.statusCode()).isEqualTo(200);
        return JSON.readValue(r.body(), new TypeReference<>() {});
    }

    @Test
    void anUnknownMacGetsARefusalThatNeverBoots() throws Exception {
        HttpResponse<String> r = get("/ipxe?mac=52:54:00:99:99:99");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body())
                .startsWith("#!ipxe\n")
                .contains("echo kiln: not booting 52:54:00:99:99:99: MAC 52:54:00:99:99:99 is not in the inventory "
                        + inventory)
                .contains("\nsleep ")
                .contains("\nchain " + base + "/ipxe?mac=52:54:00:99:99:99\n")
                .doesNotContain("kernel")
                .doesNotContain("kiln-base")
                .doesNotContain("token")
                .doesNotContain("/images/");
    }

    @Test
    void aKnownMacGetsItsImageUrlsAndItsOwnToken() throws Exception {
        HttpResponse<String> r = get("/ipxe?mac=52-54-00-12-34-01");
        assertThat(r.statusCode()).isEqualTo(200);
        String token = server.token(M1);
        assertThat(token).matches("[0-9a-f]{64}").isNotEqualTo(server.token(M2));
        assertThat(r.body())
                .startsWith("#!ipxe\n")
                .contains("\nset kiln-base " + base + "/images/debian-node/1.0.0\n")
                .contains("\nset kiln-args kiln.server=" + base + " kiln.token=" + token + " kiln.mac=" + M1 + "\n")
                .contains("\nchain ${kiln-base}/pxe/boot.ipxe || goto retry\n")
                .doesNotContain(server.token(M2));
        // What it chains is there.
        assertThat(get("/images/debian-node/1.0.0/pxe/boot.ipxe").body()).startsWith("#!ipxe");
        // Serving the script is recorded: the node is (re)booting.
        assertThat(nodes())
                .filteredOn(n -> n.mac().equals(M1))
                .extracting(NodeView::step)
                .containsExactly("ipxe");
    }

    @Test
    void theGenericScriptAsksForTheScriptOfTheBootingMac() throws Exception {
        HttpResponse<String> r = get("/boot.ipxe");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).startsWith("#!ipxe\n").contains("chain " + base + "/ipxe?mac=${net0/mac}");
        assertThat(get("/ipxe?mac=nonsense").statusCode()).isEqualTo(400);
        assertThat(get("/ipxe").statusCode()).isEqualTo(400);
    }

    @Test
    void anImageWithoutPxeOutputOrMissingFromTheStoreIsRefusedWithTheReason() throws Exception {
        HttpResponse<String> r = get("/ipxe?mac=" + NOPXE);
        assertThat(r.body())
                .contains(
                        "echo kiln: not booting " + NOPXE + ": nopxe of cluster lab: image nopxe:1.0 has no pxe output")
                .doesNotContain("kiln-base")
                .doesNotContain("kernel");
        Files.delete(store.dir(dev.kiln.core.store.ImageRef.parse("debian-node:1.0.0"))
                .resolve(ImageStore.MANIFEST));
        assertThat(get("/ipxe?mac=" + W1).body())
                .contains("w1 of cluster lab: image debian-node:1.0.0 is not in the store")
                .doesNotContain("kiln-base")
                .doesNotContain("kernel");
    }

    @Test
    void metadataNeedsTheNodesTokenAndGivesOnlyItsOwnDocument() throws Exception {
        assertThat(get("/metadata").statusCode()).isEqualTo(403);
        assertThat(get("/metadata", bearer("0".repeat(64))).statusCode()).isEqualTo(403);
        assertThat(get("/metadata", "Authorization", "Basic " + server.token(M1))
                        .statusCode())
                .isEqualTo(403);
        assertThat(get("/metadata?token=wrong").statusCode()).isEqualTo(403);
        // A MAC's token for a MAC not in the inventory is no credential.
        assertThat(get("/metadata", bearer(server.token("52:54:00:99:99:99"))).statusCode())
                .isEqualTo(403);

        Map<String, String> m1 = metadataOf(M1);
        assertThat(m1)
                .containsEntry("name", "m1")
                .containsEntry("domain", "lab.example")
                .containsEntry("fqdn", "m1.lab.example")
                .containsEntry("role", "init-master")
                .containsEntry("address", "10.0.2.15")
                .containsEntry("cluster", "lab")
                .containsEntry("masterAddr", "10.0.2.15")
                .containsEntry("nodes", "m1 m2 w1 nopxe")
                .containsEntry("nodeAddresses", "10.0.2.15 10.0.2.16 10.0.2.17 10.0.2.19")
                .containsEntry("masters", "m1 m2")
                .containsEntry("etcdInitialCluster", "m1=http://10.0.2.15:2380,m2=http://10.0.2.16:2380")
                .containsEntry("image", "debian-node:1.0.0")
                .containsEntry("imageVersion", "1.0.0")
                .containsEntry("waitTimeout", "120")
                .containsEntry("server", base)
                .containsEntry("mac", M1)
                .containsEntry("clusterKey", "fromCluster")
                .containsEntry("shared", "node");
        assertThat(m1.toString()).doesNotContain(server.token(M1));
        assertThat(metadataOf(M2))
                .containsEntry("name", "m2")
                .containsEntry("role", "join-master")
                .containsEntry("shared", "cluster");
        assertThat(metadataOf(W1)).containsEntry("name", "w1").containsEntry("role", "join-worker");
        assertThat(metadataOf(O1))
                .containsEntry("cluster", "other")
                .containsEntry("role", "init-master")
                .containsEntry("nodes", "o1")
                .containsEntry("etcdInitialCluster", "o1=http://10.0.3.15:2380");
        // Nothing in the request but the token chooses the document.
        HttpResponse<String> viaQuery = get("/metadata?token=" + server.token(W1) + "&mac=" + M1 + "&name=m1");
        assertThat(JSON.readValue(viaQuery.body(), Map.class)).containsEntry("name", "w1");
    }

    @Test
    void bootstrapMaterialIsPerClusterStableAndTheSecretsGoToMastersOnly() throws Exception {
        Map<String, String> m1 = metadataOf(M1);
        Map<String, String> m2 = metadataOf(M2);
        Map<String, String> w1 = metadataOf(W1);
        assertThat(m1.get("bootstrapToken")).matches("[a-z0-9]{6}\\.[a-z0-9]{16}");
        assertThat(m1.get("certificateKey")).matches("[0-9a-f]{64}");
        assertThat(m1.get("caCert")).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(m1.get("caKey")).contains("PRIVATE KEY-----");
        // kubeadm's pin: sha256 of the CA's SubjectPublicKeyInfo.
        java.security.cert.X509Certificate ca =
                (java.security.cert.X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                        .generateCertificate(new java.io.ByteArrayInputStream(
                                m1.get("caCert").getBytes()));
        assertThat(m1.get("caCertHash"))
                .isEqualTo("sha256:" + Hashing.sha256(ca.getPublicKey().getEncoded()));
        assertThat(ca.getSubjectX500Principal().getName()).isEqualTo("CN=kubernetes");
        // One cluster, one CA and token; workers get what joining needs, not the keys.
        assertThat(m2)
                .containsEntry("caCertHash", m1.get("caCertHash"))
                .containsEntry("bootstrapToken", m1.get("bootstrapToken"))
                .containsEntry("certificateKey", m1.get("certificateKey"))
                .containsKey("caKey");
        assertThat(w1)
                .containsEntry("caCertHash", m1.get("caCertHash"))
                .containsEntry("bootstrapToken", m1.get("bootstrapToken"))
                .doesNotContainKeys("caKey", "certificateKey");
        assertThat(metadataOf(O1).get("caCertHash"))
                .as("another cluster, another CA")
                .isNotEqualTo(m1.get("caCertHash"));
        // Kept in the state directory: a restarted server hands out the same material.
        server.close();
        server = null;
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve("cluster-lab.json"))))
                .isEqualTo("rw-------");
        startServer();
        assertThat(metadataOf(M1))
                .containsEntry("caCertHash", m1.get("caCertHash"))
                .containsEntry("caKey", m1.get("caKey"));
    }

    @Test
    void rangesReturnExactlyTheRequestedBytes() throws Exception {
        String url = "/images/debian-node/1.0.0/pxe/rootfs.squashfs";
        int size = rootfs.length;
        String etag = "\"" + Hashing.sha256(rootfs) + "\"";

        HttpResponse<byte[]> full = getBytes(url);
        assertThat(full.statusCode()).isEqualTo(200);
        assertThat(full.body()).isEqualTo(rootfs);
        assertThat(full.headers().firstValue("Content-Length")).hasValue(Integer.toString(size));
        assertThat(full.headers().firstValue("ETag")).hasValue(etag);
        assertThat(full.headers().firstValue("Accept-Ranges")).hasValue("bytes");

        assertRange(url, "bytes=0-99", 0, 99);
        assertRange(url, "bytes=500000-500999", 500000, 500999);
        assertRange(url, "bytes=-500", size - 500, size - 1);
        assertRange(url, "bytes=" + (size - 10) + "-", size - 10, size - 1);
        assertRange(url, "bytes=1000-", 1000, size - 1);
        assertRange(url, "bytes=" + (size - 5) + "-" + (size + 1000), size - 5, size - 1);

        for (String unsatisfiable :
                List.of("bytes=" + size + "-", "bytes=" + (size + 10) + "-" + (size + 20), "bytes=-0")) {
            HttpResponse<byte[]> r = getBytes(url, "Range", unsatisfiable);
            assertThat(r.statusCode()).as(unsatisfiable).isEqualTo(416);
            assertThat(r.headers().firstValue("Content-Range")).hasValue("bytes */" + size);
        }

        HttpResponse<byte[]> cached = getBytes(url, "If-None-Match", etag);
        assertThat(cached.statusCode()).isEqualTo(304);
        assertThat(cached.body()).isEmpty();
        assertThat(getBytes(url, "If-None-Match", "\"other\", " + etag).statusCode())
                .isEqualTo(304);
        assertThat(getBytes(url, "If-None-Match", "\"other\"").statusCode()).isEqualTo(200);
        // If-Range with another entity: the client's partial copy is stale, send everything.
        HttpResponse<byte[]> stale = getBytes(url, "Range", "bytes=0-9", "If-Range", "\"other\"");
        assertThat(stale.statusCode()).isEqualTo(200);
        assertThat(stale.body()).hasSize(size);

        HttpResponse<Void> head = http.send(
                HttpRequest.newBuilder(URI.create(base + url))
                        .method("HEAD", HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.discarding());
        assertThat(head.statusCode()).isEqualTo(200);
        assertThat(head.headers().firstValue("Content-Length")).hasValue(Integer.toString(size));

        HttpResponse<String> manifest = get("/images/debian-node/1.0.0/manifest.json");
        assertThat(manifest.statusCode()).isEqualTo(200);
        assertThat(manifest.body()).contains("\"pxe/rootfs.squashfs\"");
        assertThat(manifest.headers().firstValue("ETag"))
                .hasValue("\"" + Hashing.sha256(manifest.body().getBytes(StandardCharsets.UTF_8)) + "\"");
    }

    @Test
    void largeFilesAreSentInMappedChunksWithoutLosingABoundary() throws Exception {
        long saved = ImageFiles.mapChunk;
        ImageFiles.mapChunk = 100_000; // the file is about ten chunks; real chunks are 64 MiB
        try {
            String url = "/images/debian-node/1.0.0/pxe/rootfs.squashfs";
            assertThat(getBytes(url).body()).isEqualTo(rootfs);
            assertRange(url, "bytes=99990-300009", 99990, 300009);
        } finally {
            ImageFiles.mapChunk = saved;
        }
        // Off Jetty (any other OutputStream), the same bytes through a copy buffer.
        Path file = tmp.resolve("copy.bin");
        Files.write(file, rootfs);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
            ImageFiles.send(ch, 12345, 600_000, out);
        }
        assertThat(out.toByteArray()).isEqualTo(Arrays.copyOfRange(rootfs, 12345, 612345));
    }

    void assertRange(String url, String range, int first, int last) throws Exception {
        HttpResponse<byte[]> r = getBytes(url, "Range", range);
        assertThat(r.statusCode()).as(range).isEqualTo(206);
        assertThat(r.headers().firstValue("Content-Range"))
                .as(range)
                .hasValue("bytes " + first + "-" + last + "/" + rootfs.length);
        assertThat(r.headers().firstValue("Content-Length")).as(range).hasValue(Integer.toString(last - first + 1));
        assertThat(r.body()).as(range).isEqualTo(Arrays.copyOfRange(rootfs, first, last + 1));
    }

    @Test
    void nothingOutsideTheManifestOrTheVersionDirectoryIsServed() throws Exception {
        Path outside = tmp.resolve("outside-secret.txt");
        Files.writeString(outside, "TOP SECRET");
        Path version = store.dir(dev.kiln.core.store.ImageRef.parse("debian-node:1.0.0"));
        Files.writeString(version.resolve("pxe/unlisted.txt"), "TOP SECRET");
        // A symlink the manifest lists, with the right sha256: only the real-path check stops it.
        TestStore.version(store, "linked", "1.0", Map.of("pxe/vmlinuz", "TOP SECRET".getBytes(StandardCharsets.UTF_8)));
        Path linkedDir = store.root().resolve("linked/1.0");
        Files.delete(linkedDir.resolve("pxe/vmlinuz"));
        Files.createSymbolicLink(linkedDir.resolve("pxe/vmlinuz"), outside);

        List<String> refused = List.of(
                "/images/debian-node/1.0.0/../../../outside-secret.txt",
                "/images/debian-node/1.0.0/pxe/../../../../outside-secret.txt",
                "/images/debian-node/1.0.0/%2e%2e/%2e%2e/%2e%2e/outside-secret.txt",
                "/images/debian-node/1.0.0/%2E%2E/%2E%2E/%2E%2E/outside-secret.txt",
                "/images/debian-node/1.0.0/..%2f..%2f..%2foutside-secret.txt",
                "/images/debian-node/1.0.0/..%2F..%2F..%2Foutside-secret.txt",
                "/images/debian-node/1.0.0/%252e%252e/%252e%252e/%252e%252e/outside-secret.txt",
                "/images/debian-node/1.0.0/%252e%252e%252f%252e%252e%252foutside-secret.txt",
                "/images/debian-node/1.0.0/" + outside,
                "/images/debian-node/1.0.0//etc/passwd",
                "/images/debian-node/1.0.0/%2fetc%2fpasswd",
                "/images/debian-node/1.0.0/..\\..\\..\\outside-secret.txt",
                "/images/debian-node/1.0.0/..%5c..%5c..%5coutside-secret.txt",
                "/images/debian-node/1.0.0/pxe/vmlinuz%00.txt",
                "/images/debian-node/1.0.0/pxe/unlisted.txt",
                "/images/debian-node/1.0.0/pxe",
                "/images/..%2f..%2f/x/outside-secret.txt",
                "/images/%2e%2e/%2e%2e/outside-secret.txt",
                "/images/debian-node/%2e%2e/debian-node/1.0.0/pxe/vmlinuz",
                "/images/.staging/x/manifest.json",
                "/images/linked/1.0/pxe/vmlinuz");
        for (String path : refused) {
            String response = rawGet(path);
            String status = response.substring(0, response.indexOf("\r\n"));
            assertThat(status).as(path).matches("HTTP/1\\.1 (400|404) .*");
            assertThat(response)
                    .as(path)
                    .doesNotContain("TOP SECRET")
                    .doesNotContain(tmp.toString())
                    .doesNotContain("root:");
        }
        // The server did not just refuse everything.
        assertThat(rawGet("/images/debian-node/1.0.0/pxe/vmlinuz"))
                .startsWith("HTTP/1.1 200 ")
                .contains("kernel of debian-node");
        assertThat(get("/images/debian-node/9.9.9/pxe/vmlinuz").statusCode()).isEqualTo(404);
    }

    /** Sends the request target byte for byte, so no client-side normalization hides a case. */
    String rawGet(String target) throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            in.transferTo(buf);
            return buf.toString(StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void anInvalidEditKeepsThePreviousInventoryAndAValidOneIsPickedUpWithoutRestart() throws Exception {
        String newMac = "52:54:00:12:34:77";
        assertThat(get("/ipxe?mac=" + newMac).body()).contains("not in the inventory");

        // Invalid: unknown field and a new node. Refused; the old inventory keeps serving.
        Files.writeString(
                inventory,
                INVENTORY.replace(
                        "  - name: other",
                        "      - {mac: \""
                                + newMac
                                + "\", name: w7, role: worker, address: 10.0.2.77, colour: red}\n  - name: other"));
        server.inventoryWatcher().poll();
        assertThat(get("/ipxe?mac=" + newMac).body()).contains("not in the inventory");
        assertThat(get("/ipxe?mac=" + M1).body()).contains("set kiln-base");
        assertThat(server.inventory().members()).hasSize(5);

        // Valid: the same node without the bad field. The watcher's own timer picks it up.
        Files.writeString(
                inventory,
                INVENTORY.replace(
                        "  - name: other",
                        "      - {mac: \""
                                + newMac
                                + "\", name: w7, role: worker, address: 10.0.2.77}\n  - name: other"));
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        String body = "";
        while (System.nanoTime() < deadline) {
            body = get("/ipxe?mac=" + newMac).body();
            if (body.contains("set kiln-base")) {
                break;
            }
            Thread.sleep(50);
        }
        assertThat(body).contains("set kiln-args kiln.server=" + base + " kiln.token=" + server.token(newMac));
        assertThat(metadataOf(newMac)).containsEntry("name", "w7").containsEntry("nodes", "m1 m2 w1 nopxe w7");
        assertThat(metadataOf(M1)).containsEntry("nodes", "m1 m2 w1 nopxe w7");

        // Removing a node revokes its token at once.
        Files.writeString(inventory, INVENTORY);
        deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline && server.inventory().member(newMac) != null) {
            Thread.sleep(50);
        }
        assertThat(get("/metadata", bearer(server.token(newMac))).statusCode()).isEqualTo(403);
    }

    @Test
    void aStatusReportShowsInNodesAndPeers() throws Exception {
        String report = """
                {"step": "ready", "detail": "etcd member up",
                 "image": {"name": "debian-node", "version": "1.0.0", "specSha256": "abc"}, "kernel": "6.1.0-test"}""";
        assertThat(post("/status", report).statusCode()).isEqualTo(403);
        assertThat(post("/status", report, bearer("nope")).statusCode()).isEqualTo(403);
        assertThat(post("/status", "{\"step\": \"dancing\"}", bearer(server.token(M1)))
                        .statusCode())
                .isEqualTo(400);
        assertThat(post("/status", "not json", bearer(server.token(M1))).statusCode())
                .isEqualTo(400);
        assertThat(post("/status", report, bearer(server.token(M1))).statusCode())
                .isEqualTo(204);
        assertThat(post("/status", "{\"step\": \"bootstrap-started\"}", "Authorization", "bearer " + server.token(W1))
                        .statusCode())
                .isEqualTo(204);

        NodeView m1 =
                nodes().stream().filter(n -> n.mac().equals(M1)).findFirst().orElseThrow();
        assertThat(m1)
                .extracting(
                        NodeView::cluster,
                        NodeView::name,
                        NodeView::role,
                        NodeView::bootstrapRole,
                        NodeView::assignedImage,
                        NodeView::reportedImage,
                        NodeView::kernel,
                        NodeView::step,
                        NodeView::detail)
                .containsExactly(
                        "lab",
                        "m1",
                        "master",
                        "init-master",
                        "debian-node:1.0.0",
                        "debian-node:1.0.0",
                        "6.1.0-test",
                        "ready",
                        "etcd member up");
        assertThat(m1.ageSeconds()).isBetween(0L, 30L);
        NodeView m2 =
                nodes().stream().filter(n -> n.mac().equals(M2)).findFirst().orElseThrow();
        assertThat(m2.step()).isNull();
        assertThat(m2.ageSeconds()).isNull();
        assertThat(nodes()).extracting(NodeView::name).containsExactly("m1", "m2", "w1", "nopxe", "o1");

        // A later report without image/kernel keeps what the node reported before.
        post("/status", "{\"step\": \"failed\", \"detail\": \"etcd died\"}", bearer(server.token(M1)));
        m1 = nodes().stream().filter(n -> n.mac().equals(M1)).findFirst().orElseThrow();
        assertThat(m1)
                .extracting(NodeView::step, NodeView::detail, NodeView::reportedImage)
                .containsExactly("failed", "etcd died", "debian-node:1.0.0");

        // A damaged image.json (sent as a string) must not cost the step.
        assertThat(post("/status", "{\"step\": \"ready\", \"image\": \"{broken\"}", bearer(server.token(O1)))
                        .statusCode())
                .isEqualTo(204);
        assertThat(nodes())
                .filteredOn(n -> n.mac().equals(O1))
                .extracting(NodeView::step, NodeView::reportedImage)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("ready", null));

        assertThat(get("/peers").statusCode()).isEqualTo(403);
        List<Map<String, String>> peers =
                JSON.readValue(get("/peers", bearer(server.token(M2))).body(), new TypeReference<>() {});
        assertThat(peers).extracting(p -> p.get("name")).containsExactly("m1", "m2", "w1", "nopxe");
        assertThat(peers).extracting(p -> p.get("step")).containsExactly("failed", null, "bootstrap-started", null);
        List<Map<String, String>> otherPeers =
                JSON.readValue(get("/peers", bearer(server.token(O1))).body(), new TypeReference<>() {});
        assertThat(otherPeers).extracting(p -> p.get("name")).containsExactly("o1");
    }

    @Test
    void secretAndStatusSurviveARestart() throws Exception {
        String token = server.token(M1);
        assertThat(post(
                                "/status",
                                "{\"step\": \"ready\", \"detail\": \"before restart\", \"kernel\": \"6.1.0-test\"}",
                                bearer(token))
                        .statusCode())
                .isEqualTo(204);
        server.close();
        server = null;
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve(NodeTokens.SECRET_FILE))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state.resolve(StatusBook.FILE))))
                .isEqualTo("rw-------");

        startServer();
        assertThat(server.token(M1)).isEqualTo(token);
        assertThat(get("/metadata", bearer(token)).statusCode()).isEqualTo(200);
        NodeView m1 =
                nodes().stream().filter(n -> n.mac().equals(M1)).findFirst().orElseThrow();
        assertThat(m1)
                .extracting(NodeView::step, NodeView::detail, NodeView::kernel)
                .containsExactly("ready", "before restart", "6.1.0-test");
    }

    @Test
    void anotherStateDirectoryMeansOtherTokens() throws Exception {
        String token = server.token(M1);
        server.close();
        server = KilnServer.start(new KilnServer.Options(
                inventory, store, "127.0.0.1", 0, "http://kiln.example:9000/", tmp.resolve("other-state"), 100));
        base = "http://127.0.0.1:" + server.port();
        assertThat(server.token(M1)).isNotEqualTo(token);
        assertThat(get("/metadata", bearer(token)).statusCode()).isEqualTo(403);
        assertThat(server.publicUrl()).isEqualTo("http://kiln.example:9000");
        assertThat(get("/ipxe?mac=" + M1).body())
                .contains("set kiln-base http://kiln.example:9000/images/debian-node/1.0.0\n");
    }

    List<NodeView> nodes() throws Exception {
        HttpResponse<String> r = get("/nodes", bearer(server.operatorToken()));
        assertThat(r.statusCode()).isEqualTo(200);
        return JSON.readValue(r.body(), new TypeReference<>() {});
    }
}
