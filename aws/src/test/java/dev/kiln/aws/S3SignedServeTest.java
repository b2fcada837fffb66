package dev.kiln.aws;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.ManifestSignatures;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.TestStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * A signed version through S3 (moto): its signature goes up before its manifest and kiln serve
 * --trust reads it.
 */
@Tag("aws")
class S3SignedServeTest {
    static final String BUCKET = "kiln-signed";
    static final S3Location STORE = S3Location.parse("s3://" + BUCKET + "/releases");

    @TempDir
    Path tmp;

    AwsClients clients;
    S3Client s3;
    ImageStore local;
    Path key;
    Path pub;
    final List<String> uploads = new CopyOnWriteArrayList<>();
    final PublishListener listener = new PublishListener() {
        @Override
        public void objectUploaded(String k, long size) {
            uploads.add(k.substring(k.lastIndexOf('/') + 1));
        }
    };

    @BeforeEach
    void setUp() throws Exception {
        clients = Moto.shared().freshClients("us-east-1", 4);
        s3 = clients.s3(Region.US_EAST_1);
        s3.createBucket(b -> b.bucket(BUCKET));
        local = new ImageStore(tmp.resolve("local"));
        key = tmp.resolve("release.pem");
        pub = tmp.resolve("release.pub.pem");
        ManifestSignatures.writeKeyPair(ManifestSignatures.generate(), key, pub);
    }

    @AfterEach
    void close() {
        clients.close();
    }

    @Test
    void theSignatureTravelsWithTheVersionAndServeTrustsOnlyTheSignedOne() throws Exception {
        Path signed = TestStore.pxeVersion(local, "debian-node", "1.0.0", 200_000);
        ManifestSignatures.sign(signed, ManifestSignatures.readPrivateKey(key));
        new S3Publisher(clients, Progress.SILENT, listener).publish(local, ImageRef.parse("debian-node:1.0.0"), STORE);
        assertThat(uploads).contains(ManifestSignatures.FILE).last().isEqualTo(ImageStore.MANIFEST);

        // Unsigned when published, signed afterwards: publishing again adds just the signature.
        Path later = TestStore.pxeVersion(local, "debian-node", "1.0.1", 200_000);
        new S3Publisher(clients, Progress.SILENT, PublishListener.NONE)
                .publish(local, ImageRef.parse("debian-node:1.0.1"), STORE);
        TestStore.pxeVersion(local, "debian-node", "1.0.2", 200_000);
        new S3Publisher(clients, Progress.SILENT, PublishListener.NONE)
                .publish(local, ImageRef.parse("debian-node:1.0.2"), STORE);
        ManifestSignatures.sign(later, ManifestSignatures.readPrivateKey(key));
        uploads.clear();
        S3Publisher.Result again = new S3Publisher(clients, Progress.SILENT, listener)
                .publish(local, ImageRef.parse("debian-node:1.0.1"), STORE);
        assertThat(again.alreadyPublished()).isTrue();
        assertThat(uploads).containsExactly(ManifestSignatures.FILE);

        Path inventory = tmp.resolve("inventory.yaml");
        Files.writeString(inventory, """
                clusters:
                  - name: lab
                    image: debian-node:1.0.0
                    nodes:
                      - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15}
                      - {mac: "52:54:00:12:34:02", name: m2, role: master, address: 10.0.2.16, image: "debian-node:1.0.1"}
                      - {mac: "52:54:00:12:34:03", name: w1, role: worker, address: 10.0.2.17, image: "debian-node:1.0.2"}
                """);
        try (S3ImageSource source =
                        S3ImageSource.open(STORE, Moto.shared().settings("us-east-1"), tmp.resolve("cache"));
                KilnServer server = KilnServer.start(
                        new KilnServer.Options(inventory, source, "127.0.0.1", 0, null, tmp.resolve("state"), 100)
                                .trusting(ManifestSignatures.readPublicKeys(List.of(pub))))) {
            assertThat(script(server, "52:54:00:12:34:01"))
                    .contains("set kiln-base")
                    .doesNotContain("not booting");
            assertThat(script(server, "52:54:00:12:34:02"))
                    .contains("set kiln-base")
                    .doesNotContain("not booting");
            assertThat(script(server, "52:54:00:12:34:03"))
                    .contains("w1 of cluster lab: image debian-node:1.0.2 is refused by --trust: not signed")
                    .doesNotContain("kiln-base");
        }
    }

    private String script(KilnServer server, String mac) throws Exception {
        return HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/ipxe?mac=" + mac))
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.ofString())
                .body();
    }
}
