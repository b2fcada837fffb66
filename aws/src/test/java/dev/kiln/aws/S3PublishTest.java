package dev.kiln.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.Published;
import dev.kiln.core.util.Hashing;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * kiln publish --s3 against moto. moto honours If-None-Match: * on PutObject and on
 * CompleteMultipartUpload (checked below), so the conditional writes are really exercised; kiln
 * also looks before it writes, which is what protects a store that ignores the condition.
 */
@Tag("aws")
class S3PublishTest {
    static Moto moto;

    @TempDir
    Path tmp;

    ImageStore store;
    ImageRef ref;
    AwsClients clients;
    S3Client s3;
    static final String BUCKET = "kiln-images";
    static final S3Location DEST = S3Location.parse("s3://" + BUCKET + "/releases");

    @BeforeAll
    static void startMoto() {
        moto = Moto.shared();
    }

    @BeforeEach
    void setUp() throws Exception {
        clients = moto.freshClients("us-east-1", 8);
        store = new ImageStore(tmp.resolve("store"));
        ref = PublishFixture.version(store, "node", "1.0.0", "2026-11-27T00:00:00Z");
        s3 = clients.s3(Region.US_EAST_1);
        s3.createBucket(b -> b.bucket(BUCKET));
    }

    @org.junit.jupiter.api.AfterEach
    void closeClients() {
        clients.close();
    }

    /** Records uploads in order; optionally fails after N objects (a publish that dies midway). */
    static final class Recorder implements PublishListener {
        final List<String> uploaded = Collections.synchronizedList(new ArrayList<>());
        final List<String> skipped = Collections.synchronizedList(new ArrayList<>());
        final int failAfter;

        Recorder(int failAfter) {
            this.failAfter = failAfter;
        }

        @Override
        public void objectUploaded(String key, long size) {
            uploaded.add(key);
            if (uploaded.size() == failAfter) {
                throw new IllegalStateException("simulated crash after " + failAfter + " objects");
            }
        }

        @Override
        public void objectSkipped(String key) {
            skipped.add(key);
        }
    }

    S3Publisher publisher(PublishListener l) {
        // Small multipart threshold so rootfs.squashfs (20 MiB) goes up in 4 parallel parts.
        return new S3Publisher(clients, Progress.SILENT, l).workers(4).multipart(8 << 20, 5 << 20);
    }

    Map<String, String> expectedObjects() throws Exception {
        Map<String, String> want = new HashMap<>();
        String prefix = DEST.versionPrefix(ref);
        Manifest m = store.manifest(ref);
        m.artifacts().forEach((rel, a) -> want.put(prefix + rel, a.sha256()));
        want.put(prefix + "sbom.cdx.json", Hashing.sha256(store.dir(ref).resolve("sbom.cdx.json")));
        want.put(prefix + "manifest.json", Hashing.sha256(store.dir(ref).resolve("manifest.json")));
        return want;
    }

    /** Every object under the prefix, read back: key to sha256 of its content. */
    Map<String, String> readBack() {
        Map<String, String> got = new HashMap<>();
        for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix(DEST.prefix()))
                .contents()) {
            got.put(
                    o.key(),
                    Hashing.sha256(s3.getObjectAsBytes(b -> b.bucket(BUCKET).key(o.key()))
                            .asByteArray()));
        }
        return got;
    }

    int openMultipartUploads() {
        return s3.listMultipartUploads(b -> b.bucket(BUCKET)).uploads().size();
    }

    @Test
    void uploadsEveryArtifactWithItsSha256AndTheManifestLast() throws Exception {
        Recorder rec = new Recorder(-1);
        S3Publisher.Result r = publisher(rec).publish(store, ref, DEST);

        Map<String, String> want = expectedObjects();
        assertThat(readBack()).isEqualTo(want);
        assertThat(r.uploaded()).isEqualTo(want.size());
        assertThat(r.alreadyPublished()).isFalse();
        assertThat(r.url()).isEqualTo("s3://kiln-images/releases/node/1.0.0/");
        // The manifest is written last: a reader that finds it finds every artifact.
        assertThat(rec.uploaded).hasSize(want.size());
        assertThat(rec.uploaded.get(rec.uploaded.size() - 1)).isEqualTo("releases/node/1.0.0/manifest.json");
        // Each object says what it holds.
        for (Map.Entry<String, String> e : want.entrySet()) {
            HeadObjectResponse h = s3.headObject(b -> b.bucket(BUCKET).key(e.getKey()));
            assertThat(h.metadata()).containsEntry(S3Location.SHA256_METADATA, e.getValue());
        }
        assertThat(openMultipartUploads()).isZero();
        Published p = Published.read(store.dir(ref));
        assertThat(p.s3()).singleElement().satisfies(c -> {
            assertThat(c.url()).isEqualTo("s3://kiln-images/releases/node/1.0.0/");
            assertThat(c.endpoint()).isEqualTo(moto.endpoint().toString());
            assertThat(c.objects()).isEqualTo(want.size());
        });
    }

    @Test
    void secondPublishUploadsNothingAndOverwritesNothing() throws Exception {
        publisher(PublishListener.NONE).publish(store, ref, DEST);
        Map<String, String> etags = new HashMap<>();
        Map<String, java.time.Instant> modified = new HashMap<>();
        for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(BUCKET)).contents()) {
            etags.put(o.key(), o.eTag());
            modified.put(o.key(), o.lastModified());
        }
        Thread.sleep(1100); // a rewrite would show in LastModified (second resolution)

        Recorder rec = new Recorder(-1);
        S3Publisher.Result again = publisher(rec).publish(store, ref, DEST);

        assertThat(again.alreadyPublished()).isTrue();
        assertThat(again.uploaded()).isZero();
        assertThat(again.bytesSent()).isZero();
        assertThat(rec.uploaded).isEmpty();
        for (S3Object o : s3.listObjectsV2Paginator(b -> b.bucket(BUCKET)).contents()) {
            assertThat(o.eTag()).isEqualTo(etags.get(o.key()));
            assertThat(o.lastModified()).isEqualTo(modified.get(o.key()));
        }
        assertThat(etags).hasSize(expectedObjects().size());
    }

    @Test
    void emulatorHonoursIfNoneMatchOnPutAndOnCompleteMultipartUpload() {
        // This is what makes kiln's conditional writes meaningful here: moto refuses to replace.
        s3.putObject(b -> b.bucket(BUCKET).key("x"), RequestBody.fromString("first"));
        assertThatThrownBy(() ->
                        s3.putObject(b -> b.bucket(BUCKET).key("x").ifNoneMatch("*"), RequestBody.fromString("second")))
                .isInstanceOfSatisfying(
                        S3Exception.class, e -> assertThat(e.statusCode()).isEqualTo(412));
        String id = s3.createMultipartUpload(b -> b.bucket(BUCKET).key("x")).uploadId();
        byte[] part = new byte[5 << 20];
        String etag = s3.uploadPart(
                        b -> b.bucket(BUCKET).key("x").uploadId(id).partNumber(1), RequestBody.fromBytes(part))
                .eTag();
        assertThatThrownBy(() -> s3.completeMultipartUpload(b -> b.bucket(BUCKET)
                        .key("x")
                        .uploadId(id)
                        .ifNoneMatch("*")
                        .multipartUpload(m -> m.parts(p -> p.partNumber(1).eTag(etag)))))
                .isInstanceOfSatisfying(
                        S3Exception.class, e -> assertThat(e.statusCode()).isEqualTo(412));
        assertThat(s3.getObjectAsBytes(b -> b.bucket(BUCKET).key("x")).asUtf8String())
                .isEqualTo("first");
    }

    @Test
    void aDifferentManifestAlreadyThereIsNeverOverwritten() throws Exception {
        String key = DEST.versionPrefix(ref) + "manifest.json";
        s3.putObject(
                b -> b.bucket(BUCKET).key(key),
                RequestBody.fromString("{\"name\":\"node\",\"version\":\"1.0.0\",\"other\":true}"));

        assertThatThrownBy(() -> publisher(PublishListener.NONE).publish(store, ref, DEST))
                .isInstanceOf(PublishException.class)
                .hasMessageContaining("already holds a different manifest for node:1.0.0")
                .hasMessageContaining("does not overwrite");
        assertThat(readBack()).containsOnlyKeys(key);
        assertThat(s3.getObjectAsBytes(b -> b.bucket(BUCKET).key(key)).asUtf8String())
                .contains("\"other\":true");
        assertThat(Published.read(store.dir(ref))).isNull();
    }

    @Test
    void anArtifactWithOtherContentIsRefusedNotReplaced() throws Exception {
        String key = DEST.versionPrefix(ref) + "pxe/vmlinuz";
        s3.putObject(
                b -> b.bucket(BUCKET).key(key).metadata(Map.of(S3Location.SHA256_METADATA, "0".repeat(64))),
                RequestBody.fromString("another build"));
        assertThatThrownBy(() -> publisher(PublishListener.NONE).publish(store, ref, DEST))
                .hasMessageContaining("pxe/vmlinuz exists with other content")
                .hasMessageContaining("does not overwrite");
        assertThat(readBack()).doesNotContainKey(DEST.versionPrefix(ref) + "manifest.json");
    }

    @Test
    void aPublishThatDiesMidwayIsCompletedByTheNextRun() throws Exception {
        Recorder dying = new Recorder(3);
        assertThatThrownBy(() -> publisher(dying).publish(store, ref, DEST)).hasMessageContaining("simulated crash");
        // Readers see no version: the manifest is not there.
        Map<String, String> half = readBack();
        assertThat(half).doesNotContainKey(DEST.versionPrefix(ref) + "manifest.json");
        assertThat(half.size()).isBetween(3, expectedObjects().size() - 1);

        Recorder rec = new Recorder(-1);
        S3Publisher.Result r = publisher(rec).publish(store, ref, DEST);

        assertThat(readBack()).isEqualTo(expectedObjects());
        // What was complete was not sent again.
        assertThat(rec.skipped).hasSizeGreaterThanOrEqualTo(3);
        assertThat(r.uploaded() + r.skipped()).isEqualTo(expectedObjects().size());
        assertThat(openMultipartUploads()).isZero();
    }

    @Test
    void aPublishKilledMidwayEndsWithExactlyOneCompleteCopyAfterTheRerun() throws Exception {
        // A real crash: the publish runs in its own JVM (one worker) and gets SIGKILL in the middle
        // of its multipart uploads (disk.raw, 64 MiB, and rootfs.squashfs, 20 MiB, in 5 MiB parts),
        // after the second part went up.
        Process child = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        PublishProcess.class.getName(),
                        "s3",
                        moto.endpoint().toString(),
                        store.root().toString(),
                        ref.toString(),
                        DEST.toString())
                .redirectErrorStream(true)
                .start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out =
                new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            AtomicInteger parts = new AtomicInteger();
            String line;
            while ((line = out.readLine()) != null) {
                lines.add(line);
                if (line.startsWith("part ") && parts.incrementAndGet() == 2) {
                    child.destroyForcibly();
                    break;
                }
            }
        } finally {
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(lines).as("child output").anyMatch(l -> l.startsWith("part "));
        assertThat(lines).noneMatch(l -> l.equals("done"));
        assertThat(readBack()).doesNotContainKey(DEST.versionPrefix(ref) + "manifest.json");
        assertThat(openMultipartUploads())
                .as("the killed run's multipart uploads")
                .isBetween(1, 2);

        S3Publisher.Result r = publisher(PublishListener.NONE).publish(store, ref, DEST);

        assertThat(readBack()).isEqualTo(expectedObjects());
        assertThat(openMultipartUploads()).isZero();
        // The two parts that made it were not sent again (resumed, not restarted).
        long all = store.manifest(ref).artifacts().values().stream()
                .mapToLong(Manifest.Artifact::size)
                .sum();
        assertThat(r.bytesSent())
                .isLessThanOrEqualTo(all
                        - (10L << 20)
                        + Files.size(store.dir(ref).resolve("manifest.json"))
                        + Files.size(store.dir(ref).resolve("sbom.cdx.json")));
    }

    @Test
    void staleMultipartUploadsOfOtherContentAreAbortedAndRedone() throws Exception {
        String key = DEST.versionPrefix(ref) + "pxe/rootfs.squashfs";
        String stale = s3.createMultipartUpload(b -> b.bucket(BUCKET).key(key)).uploadId();
        s3.uploadPart(
                b -> b.bucket(BUCKET).key(key).uploadId(stale).partNumber(1), RequestBody.fromBytes(new byte[5 << 20]));
        String other = DEST.versionPrefix(ref) + "leftover.bin";
        s3.createMultipartUpload(b -> b.bucket(BUCKET).key(other));

        S3Publisher.Result r = publisher(PublishListener.NONE).publish(store, ref, DEST);

        assertThat(readBack()).isEqualTo(expectedObjects());
        assertThat(openMultipartUploads()).isZero();
        assertThat(r.abortedUploads()).isEqualTo(1); // leftover.bin; the stale rootfs upload was aborted before
    }

    @Test
    void aMissingBucketIsAClearErrorAndNothingIsWritten() {
        S3Location nowhere = S3Location.parse("s3://no-such-bucket-kiln/x");
        assertThatThrownBy(() -> publisher(PublishListener.NONE).publish(store, ref, nowhere))
                .isInstanceOf(PublishException.class)
                .hasMessageContaining("bucket 'no-such-bucket-kiln' does not exist")
                .hasMessageContaining("us-east-1");
        assertThat(s3.listBuckets().buckets()).extracting(b -> b.name()).containsExactly(BUCKET);
        assertThat(readBack()).isEmpty();
    }

    @Test
    void badCredentialsAreAClearErrorAndNothingIsWritten() throws Exception {
        moto.authAfter("0"); // from now on moto checks signatures against its IAM, which knows no key
        try (AwsClients bad = new AwsClients(moto.settings("us-east-1", "AKIANOSUCHKEY0000000", "wrong"), 4)) {
            assertThatThrownBy(
                            () -> new S3Publisher(bad, Progress.SILENT, PublishListener.NONE).publish(store, ref, DEST))
                    .isInstanceOf(PublishException.class)
                    .hasMessageContaining("AWS rejected the credentials")
                    .hasMessageContaining("InvalidAccessKeyId")
                    .hasMessageContaining("AWS_ACCESS_KEY_ID");
        } finally {
            moto.authAfter("inf");
        }
        assertThat(readBack()).isEmpty();
        assertThat(Published.read(store.dir(ref))).isNull();
    }

    @Test
    void anUnknownRegionIsAClearErrorBeforeAnyCall() throws Exception {
        try (AwsClients c = new AwsClients(moto.settings("us-nowhere-7"), 4)) {
            assertThatThrownBy(
                            () -> new S3Publisher(c, Progress.SILENT, PublishListener.NONE).publish(store, ref, DEST))
                    .isInstanceOf(PublishException.class)
                    .hasMessageContaining("unknown AWS region 'us-nowhere-7'")
                    .hasMessageContaining("eu-west-1");
        }
        assertThat(readBack()).isEmpty();
    }

    @Test
    void aDamagedLocalArtifactIsNotPublished() throws Exception {
        Path kernel = store.dir(ref).resolve("pxe/vmlinuz");
        byte[] b = Files.readAllBytes(kernel);
        b[100] ^= 1;
        Files.write(kernel, b);
        assertThatThrownBy(() -> publisher(PublishListener.NONE).publish(store, ref, DEST))
                .hasMessageContaining("does not match the sha256 its manifest records");
        assertThat(new TreeSet<>(readBack().keySet()))
                .doesNotContain(DEST.versionPrefix(ref) + "manifest.json")
                .doesNotContain(DEST.versionPrefix(ref) + "pxe/vmlinuz");
    }
}
