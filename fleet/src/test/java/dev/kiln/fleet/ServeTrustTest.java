package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.ManifestSignatures;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** kiln serve --trust: the real server over a hand-made store, signatures made with real keys. */
class ServeTrustTest {
    static final String MAC = "52:54:00:12:34:01";
    static final String INVENTORY = """
            clusters:
              - name: lab
                image: debian-node:1.0.0
                nodes:
                  - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15}
            """;

    @TempDir
    Path tmp;

    ImageStore store;
    Path version;
    Path key;
    Path pub;
    KilnServer server;
    final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeEach
    void start() throws Exception {
        store = new ImageStore(tmp.resolve("store"));
        version = TestStore.pxeVersion(store, "debian-node", "1.0.0", 64 * 1024);
        key = tmp.resolve("release.pem");
        pub = tmp.resolve("release.pub.pem");
        ManifestSignatures.writeKeyPair(ManifestSignatures.generate(), key, pub);
        Path inventory = tmp.resolve("inventory.yaml");
        Files.writeString(inventory, INVENTORY);
        server = KilnServer.start(
                new KilnServer.Options(inventory, store, "127.0.0.1", 0, null, tmp.resolve("state"), 100)
                        .trusting(ManifestSignatures.readPublicKeys(List.of(pub))));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    String script() throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/ipxe?mac=" + MAC))
                        .timeout(Duration.ofSeconds(10))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    @Test
    void anUnsignedVersionIsRefusedWithTheReason() throws Exception {
        assertThat(script())
                .startsWith("#!ipxe\n")
                .contains("echo kiln: not booting "
                        + MAC
                        + ": m1 of cluster lab: image debian-node:1.0.0 is refused by"
                        + " --trust: not signed (no manifest.json.sig")
                .doesNotContain("kiln-base")
                .doesNotContain("kernel")
                .doesNotContain("kiln.token");
    }

    @Test
    void aVersionSignedByAnotherKeyIsRefused() throws Exception {
        Path other = tmp.resolve("other.pem");
        ManifestSignatures.writeKeyPair(ManifestSignatures.generate(), other, tmp.resolve("other.pub.pem"));
        ManifestSignatures.sign(version, ManifestSignatures.readPrivateKey(other));
        assertThat(script())
                .contains("image debian-node:1.0.0 is refused by --trust: its signature does not verify with"
                        + " any trusted key ("
                        + ManifestSignatures.readPublicKey(pub).fingerprint())
                .doesNotContain("kiln-base");
    }

    @Test
    void aSignedVersionBootsUntilAFileNodesBootFromIsChanged() throws Exception {
        ManifestSignatures.sign(version, ManifestSignatures.readPrivateKey(key));
        assertThat(script())
                .contains("set kiln-base ")
                .contains("chain ${kiln-base}/pxe/boot.ipxe")
                .doesNotContain("not booting");
        // Someone with write access to the store swaps the initrd: the signed manifest no longer
        // covers it.
        Path initrd = store.dir(ImageRef.parse("debian-node:1.0.0")).resolve("pxe/initrd.img");
        Files.writeString(initrd, "an initrd of someone else's");
        assertThat(script())
                .contains("image debian-node:1.0.0 is refused by --trust: pxe/initrd.img")
                .doesNotContain("kiln-base");
    }
}
