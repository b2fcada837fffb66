package dev.kiln.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Published;
import dev.kiln.core.util.Hashing;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.awscore.exception.AwsErrorDetails;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.SdkResponse;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ebs.model.Block;
import software.amazon.awssdk.services.ebs.model.GetSnapshotBlockResponse;
import software.amazon.awssdk.services.ebs.model.ListSnapshotBlocksResponse;
import software.amazon.awssdk.services.ebs.model.PutSnapshotBlockRequest;
import software.amazon.awssdk.services.ebs.model.ValidationException;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.DescribeSnapshotsResponse;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.LaunchPermission;
import software.amazon.awssdk.services.ec2.model.Snapshot;
import software.amazon.awssdk.services.ec2.model.SnapshotState;
import software.amazon.awssdk.services.ssm.model.Parameter;

/**
 * kiln publish --ami against moto.
 *
 * <p>What moto cannot check, so these tests do not either: it ignores RegisterImage's architecture,
 * ENA, boot mode, IMDS support, block-device mappings and TagSpecifications (kiln tags again with
 * CreateTags, which AWS also accepts), ignores CopyImage's ClientToken and tags, does not validate
 * CompleteSnapshot's ChangedBlocksCount or checksums nor the per-block checksums, reports a
 * 512-byte BlockSize (AWS: 524288), and shows every snapshot as "completed" at once in EC2 (so the
 * "pending" and "error" states of a crashed run's snapshot exist here only as kiln's kiln:state
 * tag). The checks below read back what moto does keep: the blocks, the tags, the images per
 * region, launch permissions and SSM parameters.
 *
 * <p>Where main code copes with these gaps (the AWS behaviour is the one it relies on):
 * ImageRegistrar tags with CreateTags after RegisterImage and CopyImage (moto ignores
 * TagSpecifications and CopyImageTags); SnapshotStore logs, and ignores, a BlockSize other than 512
 * KiB (moto's 512 bytes; moto stores whatever it is given under the block index); AmiPublisher
 * takes the snapshot tagged kiln:state=complete before the image's root snapshot (moto describes a
 * snapshot it made itself at RegisterImage as the image's root).
 */
@Tag("aws")
class AmiPublishTest {
    static Moto moto;
    static final String HOME = "us-east-1";
    static final String COPY = "eu-west-1";
    static final String ACCOUNT = "111122223333";

    @TempDir
    Path tmp;

    ImageStore store;
    ImageRef ref;
    AwsClients clients;

    @BeforeAll
    static void startMoto() {
        moto = Moto.shared();
    }

    @BeforeEach
    void setUp() throws Exception {
        clients = moto.freshClients(HOME, 8);
        store = new ImageStore(tmp.resolve("store"));
        ref = PublishFixture.version(store, "node", "1.0.0", "2026-11-27T00:00:00Z");
    }

    @AfterEach
    void closeClients() {
        clients.close();
    }

    AmiPublisher publisher(PublishListener l) {
        return new AmiPublisher(clients, Progress.SILENT, l)
                .workers(4)
                .polling(Duration.ofMillis(100), Duration.ofSeconds(30));
    }

    AmiPublisher.Options options() {
        return new AmiPublisher.Options(HOME, List.of(COPY), List.of(ACCOUNT), null);
    }

    Ec2Client ec2(String region) {
        return clients.ec2(Region.of(region));
    }

    List<Snapshot> snapshots(String region, ImageRef r) {
        return ec2(region)
                .describeSnapshots(b -> b.ownerIds("self")
                        .filters(
                                Filter.builder()
                                        .name("tag:kiln:name")
                                        .values(r.name())
                                        .build(),
                                Filter.builder()
                                        .name("tag:kiln:version")
                                        .values(r.version())
                                        .build()))
                .snapshots();
    }

    List<Image> images(String region, ImageRef r) {
        return ec2(region)
                .describeImages(b -> b.owners("self")
                        .filters(
                                Filter.builder()
                                        .name("tag:kiln:name")
                                        .values(r.name())
                                        .build(),
                                Filter.builder()
                                        .name("tag:kiln:version")
                                        .values(r.version())
                                        .build()))
                .images();
    }

    static Map<String, String> tags(List<software.amazon.awssdk.services.ec2.model.Tag> tags) {
        Map<String, String> m = new TreeMap<>();
        tags.forEach(t -> m.put(t.key(), t.value()));
        return m;
    }

    /** Every block of the snapshot read back through the EBS direct APIs: index to data. */
    Map<Integer, byte[]> readSnapshot(String snapshotId) {
        EbsClient ebs = clients.ebs(Region.of(HOME));
        Map<Integer, byte[]> blocks = new TreeMap<>();
        ListSnapshotBlocksResponse list = ebs.listSnapshotBlocks(b -> b.snapshotId(snapshotId));
        for (Block blk : list.blocks()) {
            ResponseBytes<GetSnapshotBlockResponse> got = ebs.getSnapshotBlockAsBytes(
                    b -> b.snapshotId(snapshotId).blockIndex(blk.blockIndex()).blockToken(blk.blockToken()));
            byte[] data = got.asByteArray();
            // The checksum stored with the block is the one kiln sent: SHA-256 of the data, base64.
            assertThat(got.response().checksum())
                    .isEqualTo(Base64.getEncoder()
                            .encodeToString(Hashing.sha256Digest().digest(data)));
            blocks.put(blk.blockIndex(), data);
        }
        return blocks;
    }

    /** The disk's non-zero 512 KiB blocks. */
    Map<Integer, byte[]> diskBlocks() throws Exception {
        Map<Integer, byte[]> blocks = new TreeMap<>();
        try (RandomAccessFile f =
                new RandomAccessFile(store.dir(ref).resolve("disk/disk.raw").toFile(), "r")) {
            long n = f.length() / SnapshotUploader.BLOCK;
            for (int i = 0; i < n; i++) {
                byte[] b = new byte[SnapshotUploader.BLOCK];
                f.seek((long) i * SnapshotUploader.BLOCK);
                f.readFully(b);
                for (byte x : b) {
                    if (x != 0) {
                        blocks.put(i, b);
                        break;
                    }
                }
            }
        }
        return blocks;
    }

    void assertSameBlocks(Map<Integer, byte[]> got, Map<Integer, byte[]> want) {
        assertThat(got.keySet()).isEqualTo(want.keySet());
        want.forEach((i, b) -> assertThat(got.get(i)).as("block " + i).isEqualTo(b));
    }

    @Test
    void makesATaggedAmiCopiesItSharesItAndPointsTheSsmParameterAtIt() throws Exception {
        AmiPublisher.Result r = publisher(PublishListener.NONE).publish(store, ref, options());

        // The snapshot: tagged, complete, holding exactly the disk's non-zero blocks.
        List<Snapshot> snaps = snapshots(HOME, ref);
        assertThat(snaps).hasSize(1);
        Snapshot snap = snaps.get(0);
        assertThat(snap.snapshotId()).isEqualTo(r.snapshotId());
        assertThat(tags(snap.tags()))
                .containsEntry("kiln:state", "complete")
                .containsEntry("kiln:name", "node")
                .containsEntry("kiln:version", "1.0.0")
                .containsEntry("kiln:spec-hash", Hashing.sha256("node1.0.0"))
                .containsEntry("kiln:kernel", "6.1.0-50-cloud-amd64")
                .containsEntry("kiln:component:containerd", "1.6.20 (1.6.20~ds1-1+deb12u3)")
                .containsEntry("kiln:component:kubelet", "1.34.2");
        assertThat(snap.volumeSize()).isEqualTo(1); // 64 MiB, rounded up to whole GiB
        Map<Integer, byte[]> want = diskBlocks();
        assertThat(want.keySet()).containsExactlyElementsOf(PublishFixture.DATA_BLOCKS);
        assertSameBlocks(readSnapshot(snap.snapshotId()), want);
        // Zero blocks were skipped: 6 of 128 blocks went up.
        assertThat(r.blocksWritten()).isEqualTo(PublishFixture.DATA_BLOCKS.size());
        assertThat(r.bytesSent()).isEqualTo(PublishFixture.DATA_BLOCKS.size() * (long) SnapshotUploader.BLOCK);
        assertThat(r.diskBytes()).isEqualTo(64L << 20);

        // The AMI in the home region and its copy, tagged, shared.
        List<Image> home = images(HOME, ref);
        List<Image> copy = images(COPY, ref);
        assertThat(home).hasSize(1);
        assertThat(copy).hasSize(1);
        assertThat(r.images())
                .containsExactly(
                        Map.entry(HOME, home.get(0).imageId()),
                        Map.entry(COPY, copy.get(0).imageId()));
        for (Image img : List.of(home.get(0), copy.get(0))) {
            assertThat(img.name()).isEqualTo("kiln/node/1.0.0");
            assertThat(tags(img.tags()))
                    .containsEntry("kiln:name", "node")
                    .containsEntry("kiln:version", "1.0.0")
                    .containsEntry("kiln:spec-hash", Hashing.sha256("node1.0.0"))
                    .containsEntry("kiln:kernel", "6.1.0-50-cloud-amd64")
                    .containsKey("kiln:component:containerd");
            String region = img == home.get(0) ? HOME : COPY;
            List<LaunchPermission> perms = ec2(region)
                    .describeImageAttribute(b -> b.imageId(img.imageId()).attribute("launchPermission"))
                    .launchPermissions();
            assertThat(perms).extracting(LaunchPermission::userId).containsExactly(ACCOUNT);
        }
        assertThat(tags(copy.get(0).tags()))
                .containsEntry("kiln:copied-from", HOME + "/" + home.get(0).imageId());

        // The SSM parameter in each region points at that region's AMI, as an EC2 image id.
        for (Map.Entry<String, String> e : r.images().entrySet()) {
            Parameter p = clients.ssm(Region.of(e.getKey()))
                    .getParameter(b -> b.name("/kiln/images/node/latest"))
                    .parameter();
            assertThat(p.value()).isEqualTo(e.getValue());
            assertThat(p.dataType()).isEqualTo("aws:ec2:image");
        }

        // Recorded next to the manifest, which is untouched.
        Published published = Published.read(store.dir(ref));
        assertThat(published.amis())
                .extracting(Published.Ami::region, Published.Ami::imageId)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(HOME, home.get(0).imageId()),
                        org.assertj.core.groups.Tuple.tuple(COPY, copy.get(0).imageId()));
        assertThat(published.amis().get(0).snapshotId()).isEqualTo(snap.snapshotId());
        assertThat(published.amis()).allSatisfy(a -> {
            assertThat(a.ssmParameter()).isEqualTo("/kiln/images/node/latest");
            assertThat(a.sharedWith()).containsExactly(ACCOUNT);
        });
        assertThat(store.manifest(ref).artifacts()).doesNotContainKey("published.json");
    }

    @Test
    void aSecondPublishCreatesNothingNew() throws Exception {
        AmiPublisher.Result first = publisher(PublishListener.NONE).publish(store, ref, options());
        List<String> created = new ArrayList<>();
        AmiPublisher.Result again = publisher(new PublishListener() {
                    @Override
                    public void created(String kind, String region, String id) {
                        if (!kind.equals("ssm-parameter")) {
                            created.add(kind + " " + id);
                        }
                    }

                    @Override
                    public void blockUploaded(String snapshotId, int blockIndex) {
                        created.add("block " + blockIndex);
                    }
                })
                .publish(store, ref, options());

        assertThat(created).isEmpty();
        assertThat(again.created()).isEmpty();
        assertThat(again.snapshotWritten()).isFalse();
        assertThat(again.images()).isEqualTo(first.images());
        assertThat(again.snapshotId()).isEqualTo(first.snapshotId());
        assertThat(snapshots(HOME, ref)).hasSize(1);
        assertThat(images(HOME, ref)).hasSize(1);
        assertThat(images(COPY, ref)).hasSize(1);
    }

    @Test
    void aPublishKilledMidwayEndsWithOneSnapshotAndOneAmiAfterTheRerun() throws Exception {
        // A real crash: the publish runs in its own JVM (one worker, slowed down) and gets SIGKILL
        // after two blocks are written into its snapshot.
        Process child = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        PublishProcess.class.getName(),
                        "ami",
                        moto.endpoint().toString(),
                        store.root().toString(),
                        ref.toString(),
                        HOME,
                        COPY)
                .redirectErrorStream(true)
                .start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out =
                new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            int blocks = 0;
            String line;
            while ((line = out.readLine()) != null) {
                lines.add(line);
                if (line.startsWith("block ") && ++blocks == 2) {
                    child.destroyForcibly();
                    break;
                }
            }
        } finally {
            child.destroyForcibly();
            child.waitFor(30, TimeUnit.SECONDS);
        }
        assertThat(lines).as("child output").anyMatch(l -> l.startsWith("block "));
        List<Snapshot> left = snapshots(HOME, ref);
        assertThat(left).hasSize(1);
        assertThat(tags(left.get(0).tags())).containsEntry("kiln:state", "uploading");
        assertThat(images(HOME, ref)).isEmpty();

        AmiPublisher.Result r = publisher(PublishListener.NONE).publish(store, ref, options());

        List<Snapshot> snaps = snapshots(HOME, ref);
        assertThat(snaps).hasSize(1);
        assertThat(snaps.get(0).snapshotId())
                .as("the crashed run's snapshot, completed")
                .isEqualTo(left.get(0).snapshotId());
        assertThat(tags(snaps.get(0).tags())).containsEntry("kiln:state", "complete");
        assertSameBlocks(readSnapshot(snaps.get(0).snapshotId()), diskBlocks());
        assertThat(images(HOME, ref)).hasSize(1);
        assertThat(images(COPY, ref)).hasSize(1);
        assertThat(r.images()).hasSize(2);
    }

    @Test
    void anAmiRegisteredByACrashedRunBeforeItWasTaggedIsFoundByItsName() throws Exception {
        AmiPublisher.Result first = publisher(PublishListener.NONE).publish(store, ref, options());
        // What a crash between RegisterImage and CreateTags leaves on a service that ignores
        // RegisterImage's TagSpecifications (moto): the AMI, by name, without kiln's tags.
        String id = first.images().get(HOME);
        ec2(HOME)
                .deleteTags(b -> b.resources(id)
                        .tags(
                                software.amazon.awssdk.services.ec2.model.Tag.builder()
                                        .key("kiln:name")
                                        .build(),
                                software.amazon.awssdk.services.ec2.model.Tag.builder()
                                        .key("kiln:version")
                                        .build()));
        assertThat(images(HOME, ref)).isEmpty();

        AmiPublisher.Result again = publisher(PublishListener.NONE).publish(store, ref, options());

        assertThat(again.images().get(HOME)).isEqualTo(id);
        assertThat(again.created()).isEmpty();
        assertThat(ec2(HOME).describeImages(b -> b.owners("self")).images())
                .extracting(Image::name)
                .containsOnlyOnce("kiln/node/1.0.0");
    }

    @Test
    void anOlderVersionPublishedLaterDoesNotMoveTheSsmParameterBack() throws Exception {
        ImageRef newer = PublishFixture.version(store, "node", "2.0.0", "2026-12-01T00:00:00Z");
        AmiPublisher.Result n = publisher(PublishListener.NONE)
                .publish(store, newer, new AmiPublisher.Options(HOME, List.of(), List.of(), null));
        AmiPublisher.Result o = publisher(PublishListener.NONE)
                .publish(store, ref, new AmiPublisher.Options(HOME, List.of(), List.of(), null));

        assertThat(o.images().get(HOME)).isNotEqualTo(n.images().get(HOME));
        assertThat(clients.ssm(Region.of(HOME))
                        .getParameter(b -> b.name("/kiln/images/node/latest"))
                        .parameter()
                        .value())
                .isEqualTo(n.images().get(HOME));
        assertThat(Published.read(store.dir(ref)).amis().get(0).ssmParameter()).isNull();
        assertThat(Published.read(store.dir(newer)).amis().get(0).ssmParameter())
                .isEqualTo("/kiln/images/node/latest");
    }

    @Test
    void badCredentialsAreAClearErrorAndNothingIsCreated() throws Exception {
        moto.authAfter("0"); // moto now checks signatures against its IAM, which knows no key
        try (AwsClients bad = new AwsClients(moto.settings(HOME, "AKIANOSUCHKEY0000000", "wrong"), 4)) {
            assertThatThrownBy(() ->
                            new AmiPublisher(bad, Progress.SILENT, PublishListener.NONE).publish(store, ref, options()))
                    .isInstanceOf(PublishException.class)
                    .hasMessageContaining("AWS rejected the credentials")
                    .hasMessageContaining("us-east-1")
                    .hasMessageContaining("AWS_PROFILE");
        } finally {
            moto.authAfter("inf");
        }
        assertThat(snapshots(HOME, ref)).isEmpty();
        assertThat(ec2(HOME).describeImages(b -> b.owners("self")).images()).isEmpty();
        assertThat(Published.read(store.dir(ref))).isNull();
    }

    @Test
    void anUnknownRegionIsAClearErrorAndNothingIsCreated() throws Exception {
        assertThatThrownBy(() -> publisher(PublishListener.NONE)
                        .publish(store, ref, new AmiPublisher.Options(HOME, List.of("eu-nowhere-9"), List.of(), null)))
                .isInstanceOf(PublishException.class)
                .hasMessageContaining("unknown AWS region 'eu-nowhere-9' (from --copy-to)");
        assertThatThrownBy(() -> publisher(PublishListener.NONE)
                        .publish(store, ref, new AmiPublisher.Options("mars-north-1", List.of(), List.of(), null)))
                .hasMessageContaining("unknown AWS region 'mars-north-1' (from --region)");
        assertThat(snapshots(HOME, ref)).isEmpty();
        assertThat(ec2(HOME).describeImages(b -> b.owners("self")).images()).isEmpty();
    }

    @Test
    void aBadAccountIdIsRefusedBeforeAnythingIsCreated() {
        assertThatThrownBy(() -> publisher(PublishListener.NONE)
                        .publish(store, ref, new AmiPublisher.Options(HOME, List.of(), List.of("12345"), null)))
                .hasMessageContaining("'12345' is not an AWS account id");
        assertThat(snapshots(HOME, ref)).isEmpty();
    }

    @Test
    void aRootVolumeSmallerThanTheSnapshotIsRefusedBeforeAnythingIsCreated() {
        assertThatThrownBy(() -> publisher(PublishListener.NONE)
                        .publish(store, ref, new AmiPublisher.Options(HOME, List.of(), List.of(), null, 0)))
                .hasMessageContaining("--volume-size 0 GiB is smaller than the snapshot of disk.raw (1 GiB)");
        assertThat(snapshots(HOME, ref)).isEmpty();
        assertThat(images(HOME, ref)).isEmpty();
    }

    @Test
    void aVersionWithoutADiskIsAClearError() throws Exception {
        java.nio.file.Files.delete(store.dir(ref).resolve("disk/disk.raw"));
        assertThatThrownBy(() -> publisher(PublishListener.NONE).publish(store, ref, options()))
                .hasMessageContaining("has no disk/disk.raw");
    }

    /**
     * What a crashed run leaves: a snapshot tagged kiln:state=uploading with some (or all) blocks
     * written.
     */
    String crashedSnapshot(boolean allBlocksAndCompleted) throws Exception {
        EbsClient ebs = clients.ebs(Region.of(HOME));
        String id = ebs.startSnapshot(b -> b.volumeSize(1L)
                        .tags(
                                software.amazon.awssdk.services.ebs.model.Tag.builder()
                                        .key("kiln:name")
                                        .value(ref.name())
                                        .build(),
                                software.amazon.awssdk.services.ebs.model.Tag.builder()
                                        .key("kiln:version")
                                        .value(ref.version())
                                        .build(),
                                software.amazon.awssdk.services.ebs.model.Tag.builder()
                                        .key("kiln:state")
                                        .value("uploading")
                                        .build()))
                .snapshotId();
        Map<Integer, byte[]> blocks = diskBlocks();
        for (Map.Entry<Integer, byte[]> e : blocks.entrySet()) {
            ebs.putSnapshotBlock(
                    b -> b.snapshotId(id)
                            .blockIndex(e.getKey())
                            .dataLength(SnapshotUploader.BLOCK)
                            .checksum(Base64.getEncoder()
                                    .encodeToString(Hashing.sha256Digest().digest(e.getValue())))
                            .checksumAlgorithm("SHA256"),
                    software.amazon.awssdk.core.sync.RequestBody.fromBytes(e.getValue()));
            if (!allBlocksAndCompleted) {
                break;
            }
        }
        if (allBlocksAndCompleted) {
            ebs.completeSnapshot(b -> b.snapshotId(id).changedBlocksCount(blocks.size()));
        }
        return id;
    }

    /**
     * Makes EC2 describe one snapshot in the given state, as AWS would (moto says "completed" for
     * all).
     */
    static ExecutionInterceptor snapshotState(String snapshotId, SnapshotState state) {
        return new ExecutionInterceptor() {
            @Override
            public SdkResponse modifyResponse(Context.ModifyResponse ctx, ExecutionAttributes attrs) {
                if (ctx.response() instanceof DescribeSnapshotsResponse r) {
                    return r.toBuilder()
                            .snapshots(r.snapshots().stream()
                                    .map(x -> x.snapshotId().equals(snapshotId)
                                            ? x.toBuilder().state(state).build()
                                            : x)
                                    .toList())
                            .build();
                }
                return ctx.response();
            }
        };
    }

    @Test
    void aCrashedRunsSnapshotInErrorIsDeletedAndRedone() throws Exception {
        // On AWS a pending snapshot nobody writes to times out into "error"; moto has no such
        // state,
        // so an interceptor makes EC2 describe the crashed run's snapshot that way.
        String crashed = crashedSnapshot(false);
        try (AwsClients c =
                new AwsClients(moto.settings(HOME), 8, List.of(snapshotState(crashed, SnapshotState.ERROR)))) {
            List<String> created = new ArrayList<>();
            AmiPublisher.Result r = new AmiPublisher(c, Progress.SILENT, new PublishListener() {
                        @Override
                        public void created(String kind, String region, String id) {
                            created.add(kind);
                        }
                    })
                    .workers(4)
                    .polling(Duration.ofMillis(100), Duration.ofSeconds(30))
                    .publish(store, ref, new AmiPublisher.Options(HOME, List.of(), List.of(), null));

            assertThat(r.snapshotId()).isNotEqualTo(crashed);
            assertThat(created).containsExactly("snapshot", "image", "ssm-parameter");
        }
        List<Snapshot> snaps = snapshots(HOME, ref);
        assertThat(snaps)
                .extracting(Snapshot::snapshotId)
                .doesNotContain(crashed)
                .hasSize(1);
        assertThat(tags(snaps.get(0).tags())).containsEntry("kiln:state", "complete");
        assertSameBlocks(readSnapshot(snaps.get(0).snapshotId()), diskBlocks());
        assertThat(images(HOME, ref)).hasSize(1);
    }

    @Test
    void aSnapshotTheCrashedRunCompletedButDidNotMarkIsAdoptedNotRewritten() throws Exception {
        // The crash hit between CompleteSnapshot and the kiln:state=complete tag. AWS refuses
        // blocks for a completed snapshot (moto accepts them: an interceptor refuses them here).
        String crashed = crashedSnapshot(true);
        ExecutionInterceptor refuseBlocks = new ExecutionInterceptor() {
            @Override
            public void beforeExecution(Context.BeforeExecution ctx, ExecutionAttributes attrs) {
                if (ctx.request() instanceof PutSnapshotBlockRequest p
                        && p.snapshotId().equals(crashed)) {
                    throw ValidationException.builder()
                            .message("The snapshot is not in the pending state")
                            .statusCode(400)
                            .awsErrorDetails(AwsErrorDetails.builder()
                                    .errorCode("ValidationException")
                                    .errorMessage("The snapshot is not in the pending state")
                                    .build())
                            .build();
                }
            }
        };
        List<String> events = new ArrayList<>();
        try (AwsClients c = new AwsClients(moto.settings(HOME), 8, List.of(refuseBlocks))) {
            AmiPublisher.Result r = new AmiPublisher(c, Progress.SILENT, new PublishListener() {
                        @Override
                        public void created(String kind, String region, String id) {
                            events.add(kind);
                        }

                        @Override
                        public void blockUploaded(String snapshotId, int blockIndex) {
                            events.add("block");
                        }
                    })
                    .workers(4)
                    .polling(Duration.ofMillis(100), Duration.ofSeconds(30))
                    .publish(store, ref, new AmiPublisher.Options(HOME, List.of(), List.of(), null));
            assertThat(r.snapshotId()).isEqualTo(crashed);
        }
        assertThat(events).containsExactly("image", "ssm-parameter");
        List<Snapshot> snaps = snapshots(HOME, ref);
        assertThat(snaps).extracting(Snapshot::snapshotId).containsExactly(crashed);
        assertThat(tags(snaps.get(0).tags())).containsEntry("kiln:state", "complete");
        assertThat(images(HOME, ref)).hasSize(1);
    }
}
