package dev.kiln.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.fleet.InventoryException;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.TestStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * kiln serve --store s3://: versions published to moto are mirrored into the cache, checked, and
 * served.
 */
@Tag("aws")
class S3StoreServeTest {
    static final String BUCKET = "kiln-images";
    static final S3Location STORE = S3Location.parse("s3://" + BUCKET + "/releases");
    static final String M1 = "52:54:00:12:34:01";
    static Moto moto;

    @TempDir
    Path tmp;

    ImageStore local;
    AwsClients clients;
    S3Client s3;
    Path inventory;
    final HttpClient http =
            HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeAll
    static void startMoto() {
        moto = Moto.shared();
    }

    @BeforeEach
    void setUp() throws Exception {
        clients = moto.freshClients("us-east-1", 4);
        s3 = clients.s3(Region.US_EAST_1);
        s3.createBucket(b -> b.bucket(BUCKET));
        local = new ImageStore(tmp.resolve("local"));
        inventory = tmp.resolve("inventory.yaml");
    }

    @AfterEach
    void closeClients() {
        clients.close();
    }

    /** Builds NAME:VERSION by hand in the local store and publishes it to moto. */
    ImageRef publish(String name, String version) throws Exception {
        TestStore.pxeVersion(local, name, version, 3 * 1024 * 1024 + 17);
        ImageRef ref = new ImageRef(name, version);
        new S3Publisher(clients, Progress.SILENT, PublishListener.NONE).publish(local, ref, STORE);
        return ref;
    }

    void writeInventory(String image) throws Exception {
        Files.writeString(inventory, """
                clusters:
                  - name: lab
                    image: %s
                    nodes:
                      - {mac: "%s", name: m1, role: master, address: 10.0.2.15}
                """.formatted(image, M1));
    }

    S3ImageSource open() throws Exception {
        return S3ImageSource.open(STORE, moto.settings("us-east-1"), tmp.resolve("cache"));
    }

    KilnServer serve(S3ImageSource source) throws Exception {
        return KilnServer.start(
                new KilnServer.Options(inventory, source, "127.0.0.1", 0, null, tmp.resolve("state"), 100));
    }

    HttpResponse<byte[]> get(KilnServer server, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                .timeout(Duration.ofSeconds(10));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    static String text(HttpResponse<byte[]> r) {
        return new String(r.body(), java.nio.charset.StandardCharsets.UTF_8);
    }

    @Test
    void servesAPublishedVersionFromTheMirrorWithRanges() throws Exception {
        ImageRef ref = publish("debian-node", "1.0.0");
        writeInventory("debian-node:1.0.0");
        byte[] rootfs = Files.readAllBytes(local.dir(ref).resolve("pxe/rootfs.squashfs"));
        byte[] manifest = Files.readAllBytes(local.dir(ref).resolve(ImageStore.MANIFEST));
        try (S3ImageSource source = open();
                KilnServer server = serve(source)) {
            HttpResponse<byte[]> script = get(server, "/ipxe?mac=" + M1);
            assertThat(script.statusCode()).isEqualTo(200);
            assertThat(text(script)).contains("/images/debian-node/1.0.0").doesNotContain("not booting");

            HttpResponse<byte[]> whole = get(server, "/images/debian-node/1.0.0/pxe/rootfs.squashfs");
            assertThat(whole.statusCode()).isEqualTo(200);
            assertThat(whole.body()).isEqualTo(rootfs);
            HttpResponse<byte[]> part =
                    get(server, "/images/debian-node/1.0.0/pxe/rootfs.squashfs", "Range", "bytes=1000-1999");
            assertThat(part.statusCode()).isEqualTo(206);
            assertThat(part.headers().firstValue("Content-Range")).hasValue("bytes 1000-1999/" + rootfs.length);
            assertThat(part.body()).isEqualTo(Arrays.copyOfRange(rootfs, 1000, 2000));
            // The manifest is kept byte for byte, so its ETag is the sha256 of what was published.
            assertThat(get(server, "/images/debian-node/1.0.0/manifest.json").body())
                    .isEqualTo(manifest);
            assertThat(source.store().root()).isEqualTo(tmp.resolve("cache"));

            // A reload mirrors a newly assigned version before it goes in force; m1 boots it once a
            // rollout re-points it (done here as the rollout controller does).
            publish("debian-node", "1.0.1");
            writeInventory("debian-node:1.0.1");
            server.inventoryWatcher().poll();
            server.repoint(M1, new ImageRef("debian-node", "1.0.1"), "test-rollout");
            assertThat(text(get(server, "/ipxe?mac=" + M1))).contains("/images/debian-node/1.0.1");
            assertThat(get(server, "/images/debian-node/1.0.1/pxe/vmlinuz").body())
                    .isEqualTo(Files.readAllBytes(
                            local.dir(new ImageRef("debian-node", "1.0.1")).resolve("pxe/vmlinuz")));
        }
        // A restart finds the version in the cache and fetches nothing again (still checked against
        // S3).
        Path cached = tmp.resolve("cache/debian-node/1.0.1/pxe/rootfs.squashfs");
        long mtime = Files.getLastModifiedTime(cached).toMillis();
        try (S3ImageSource source = open();
                KilnServer server = serve(source)) {
            assertThat(get(server, "/images/debian-node/1.0.1/pxe/rootfs.squashfs")
                            .statusCode())
                    .isEqualTo(200);
            assertThat(Files.getLastModifiedTime(cached).toMillis()).isEqualTo(mtime);
        }
    }

    @Test
    void aCorruptObjectInS3IsRefusedAndNothingOfItsVersionBecomesVisible() throws Exception {
        ImageRef ref = publish("debian-node", "1.0.0");
        writeInventory("debian-node:1.0.0");
        // Same size, other bytes: only the sha256 check can catch it.
        byte[] bad = Files.readAllBytes(local.dir(ref).resolve("pxe/rootfs.squashfs"));
        bad[bad.length / 2] ^= 1;
        s3.putObject(
                b -> b.bucket(BUCKET).key(STORE.versionPrefix(ref) + "pxe/rootfs.squashfs"),
                RequestBody.fromBytes(bad));

        try (S3ImageSource source = open();
                KilnServer server = serve(source)) {
            String script = text(get(server, "/ipxe?mac=" + M1));
            assertThat(script)
                    .contains("not booting")
                    .contains("pxe/rootfs.squashfs")
                    .contains("does not match the manifest")
                    .doesNotContain("/images/debian-node/1.0.0/pxe/vmlinuz");
            assertThat(source.unavailable(ref)).contains("sha256");
            for (String f : new String[] {"manifest.json", "pxe/vmlinuz", "pxe/rootfs.squashfs"}) {
                assertThat(get(server, "/images/debian-node/1.0.0/" + f).statusCode())
                        .as(f)
                        .isEqualTo(404);
            }
            assertThat(source.store().exists(ref)).isFalse();
            assertThat(Files.exists(source.store().dir(ref))).isFalse();
            try (Stream<Path> staging = Files.list(source.store().root().resolve(".staging"))) {
                assertThat(staging.filter(Files::isDirectory))
                        .as("no staging leftovers")
                        .isEmpty();
            }
        }
    }

    @Test
    void aVersionWithoutManifestInS3DoesNotExist() throws Exception {
        ImageRef ref = publish("debian-node", "1.0.0");
        s3.deleteObject(b -> b.bucket(BUCKET).key(STORE.versionPrefix(ref) + ImageStore.MANIFEST));
        writeInventory("debian-node:1.0.0");
        try (S3ImageSource source = open()) {
            assertThatThrownBy(() -> serve(source))
                    .isInstanceOf(InventoryException.class)
                    .hasMessageContaining("image debian-node:1.0.0 is not in the S3 store " + STORE);
        }
    }

    @Test
    void aMissingBucketFailsAtOpen() {
        assertThatThrownBy(() -> S3ImageSource.open(
                        S3Location.parse("s3://no-such-bucket/x"), moto.settings("us-east-1"), tmp.resolve("cache")))
                .hasMessageContaining("bucket 'no-such-bucket' does not exist");
    }
}
