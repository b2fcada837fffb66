package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.aws.AmiPublisher;
import dev.kiln.aws.AwsClients;
import dev.kiln.aws.Moto;
import dev.kiln.aws.PublishFixture;
import dev.kiln.aws.PublishListener;
import dev.kiln.aws.S3Location;
import dev.kiln.aws.S3Publisher;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Published;
import dev.kiln.release.EnvironmentsLoader;
import dev.kiln.release.Identity;
import dev.kiln.release.Releases;
import dev.kiln.release.S3ReleaseStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ssm.model.ParameterType;

/**
 * kiln prune against moto: an S3 store (also killed midway), and AMIs with their snapshots in two
 * regions.
 */
@Tag("aws")
class PruneAwsTest {
    static final String HOME = "us-east-1";
    static final String COPY = "eu-west-1";
    static final String KEY = "AKIAKILNTEST00000000";
    static final String SECRET = "kiln-test-secret";

    @TempDir
    Path tmp;

    Moto moto;
    AwsClients clients;
    ImageStore local;
    final S3Location bucket = S3Location.parse("s3://kiln-prune/team");

    @BeforeEach
    void setUp() {
        moto = Moto.shared();
        clients = moto.freshClients(HOME, 4);
        local = new ImageStore(tmp.resolve("store"));
        // kiln's own commands find moto's test credentials as they would find real ones.
        System.setProperty("aws.accessKeyId", KEY);
        System.setProperty("aws.secretAccessKey", SECRET);
    }

    @AfterEach
    void tearDown() {
        clients.close();
        System.clearProperty("aws.accessKeyId");
        System.clearProperty("aws.secretAccessKey");
    }

    String[] s3Args(String... more) {
        List<String> a = new ArrayList<>(List.of(more));
        a.addAll(List.of(
                "--store",
                bucket.toString(),
                "--cache",
                tmp.resolve("cache").toString(),
                "--region",
                HOME,
                "--endpoint-url",
                moto.endpoint().toString()));
        return a.toArray(String[]::new);
    }

    void publishToS3(int versions) throws Exception {
        clients.s3(Region.US_EAST_1).createBucket(b -> b.bucket(bucket.bucket()));
        for (int i = 1; i <= versions; i++) {
            ImageRef ref = PruneFixtures.version(local, "node", "1.0." + i, "2026-11-0" + i + "T00:00:00Z");
            new S3Publisher(clients, Progress.SILENT, PublishListener.NONE).publish(local, ref, bucket);
        }
    }

    List<String> keys(String version) {
        List<String> out = new ArrayList<>();
        clients.s3(Region.US_EAST_1)
                .listObjectsV2Paginator(b -> b.bucket(bucket.bucket()).prefix("team/node/" + version))
                .contents()
                .forEach(o -> out.add(o.key()));
        return out;
    }

    @Test
    void anS3StoreKeepsWhatIsInProdAssignedOrPinnedAndLosesExactlyTheRest() throws Exception {
        publishToS3(5);
        try (Releases r = new Releases(
                S3ReleaseStore.open(bucket, moto.settings(HOME), tmp.resolve("cache")),
                Clock.systemUTC(),
                new Identity("alice", "KILN_ACTOR"),
                null)) {
            r.promote(
                    EnvironmentsLoader.parse(tmp.resolve("environments.yaml"), "environments:\n  - name: prod\n"),
                    new ImageRef("node", "1.0.5"),
                    "prod",
                    null,
                    Map.of());
        }
        assertThat(PruneFixtures.kiln(s3Args("pin", "node:1.0.1", "--reason", "audit"))
                        .status())
                .isZero();
        Path inventory = tmp.resolve("inventory.yaml");
        Files.writeString(inventory, PruneCommandTest.INVENTORY);

        String[] prune = s3Args("prune", "--keep", "1", "--inventory", inventory.toString(), "--no-docker");
        PruneFixtures.Run dry = PruneFixtures.kiln(concat(prune, "--dry-run"));
        assertThat(dry.status()).as(dry.out()).isZero();
        assertThat(dry.out()
                        .lines()
                        .filter(l -> l.startsWith("would delete"))
                        .map(l -> l.substring(0, l.indexOf("  "))))
                .containsExactly("would delete node:1.0.4", "would delete node:1.0.3");
        assertThat(dry.out())
                .contains("keep         node:1.0.5  prod points to it")
                .contains("keep         node:1.0.2  cluster lab's image in inventory")
                .contains("keep         node:1.0.1  pinned by ")
                .contains(": audit");
        assertThat(keys("1.0.3/")).isNotEmpty();

        PruneFixtures.Run run = PruneFixtures.kiln(prune);
        assertThat(run.status()).as(run.out()).isZero();
        assertThat(keys("1.0.3/")).isEmpty();
        assertThat(keys("1.0.4/")).isEmpty();
        for (String kept : List.of("1.0.1/", "1.0.2/", "1.0.5/")) {
            assertThat(keys(kept))
                    .as(kept)
                    .contains("team/node/" + kept + "manifest.json")
                    .hasSizeGreaterThan(1);
        }
        assertThat(keys(".prune/")).isEmpty();
        assertThat(keys(".release/events/")).hasSize(2); // the promotion and the pin stay
    }

    @Test
    void anS3PruneKilledAfterTheManifestWentHidesTheVersionAndARerunDeletesTheRest() throws Exception {
        publishToS3(3);
        PruneFixtures.Run killed = PruneFixtures.killedAt(
                "s3-manifest-deleted",
                tmp.resolve("prune.log"),
                List.of("-Daws.accessKeyId=" + KEY, "-Daws.secretAccessKey=" + SECRET),
                s3Args("prune", "--keep", "2", "--no-docker"));
        assertThat(killed.status()).as(killed.out()).isEqualTo(137);
        // Readers find versions by their manifest: 1.0.1 is gone for them, its artifacts are not
        // yet.
        assertThat(keys("1.0.1/")).isNotEmpty().doesNotContain("team/node/1.0.1/manifest.json");
        assertThat(keys(".prune/")).containsExactly("team/node/.prune/1.0.1");
        PruneFixtures.Run dry = PruneFixtures.kiln(s3Args("prune", "--keep", "2", "--no-docker", "--dry-run"));
        assertThat(dry.out()).doesNotContain("node:1.0.1");

        PruneFixtures.Run again = PruneFixtures.kiln(s3Args("prune", "--keep", "2", "--no-docker"));
        assertThat(again.status()).as(again.out()).isZero();
        assertThat(again.out()).contains("finished deleting node:1.0.1");
        assertThat(keys("1.0.1/")).isEmpty();
        assertThat(keys(".prune/")).isEmpty();
        assertThat(keys("1.0.2/")).contains("team/node/1.0.2/manifest.json");
    }

    @Test
    void amisAndSnapshotsGoInEveryRegionButAnAmiAnSsmParameterPointsAtIsKeptWithAMessage() throws Exception {
        ImageRef v1 = PublishFixture.version(local, "node", "1.0.1", "2026-11-01T00:00:00Z");
        ImageRef v2 = PublishFixture.version(local, "node", "1.0.2", "2026-11-02T00:00:00Z");
        ImageRef v3 = PublishFixture.version(local, "node", "1.0.3", "2026-11-03T00:00:00Z");
        Map<String, String> amis1 = publishAmis(v1);
        Map<String, String> amis2 = publishAmis(v2);
        publishAmis(v3); // kiln publish points /kiln/images/node/latest at the newest: 1.0.3's AMIs
        Map<String, String> snaps1 = new java.util.HashMap<>();
        for (String region : List.of(HOME, COPY)) {
            snaps1.put(
                    region,
                    ec2(region)
                            .describeImages(b -> b.imageIds(amis1.get(region)))
                            .images()
                            .get(0)
                            .blockDeviceMappings()
                            .get(0)
                            .ebs()
                            .snapshotId());
        }
        // A launch template's parameter, not kiln's: it still resolves 1.0.2's copy.
        clients.ssm(Region.of(COPY))
                .putParameter(b -> b.name("/team/web/ami")
                        .value(amis2.get(COPY))
                        .type(ParameterType.STRING)
                        .dataType("aws:ec2:image"));

        String[] prune = {
            "prune",
            "--keep",
            "1",
            "--store",
            local.root().toString(),
            "--amis",
            "--region",
            HOME,
            "--endpoint-url",
            moto.endpoint().toString(),
            "--no-docker"
        };
        PruneFixtures.Run dry = PruneFixtures.kiln(concat(prune, "--dry-run"));
        assertThat(dry.out())
                .contains("would delete node:1.0.1")
                .contains("2 AMIs and their snapshots")
                .contains("keep         node:1.0.2  AMI "
                        + amis2.get(COPY)
                        + " in "
                        + COPY
                        + " is the value of SSM parameter /team/web/ami: point it elsewhere")
                .doesNotContain("AMI " + amis2.get(HOME));
        PruneFixtures.Run run = PruneFixtures.kiln(prune);
        assertThat(run.status()).as(run.out()).isZero();

        for (String region : List.of(HOME, COPY)) {
            Ec2Client ec2 = ec2(region);
            assertThat(ec2.describeImages(b -> b.owners("self")).images())
                    .extracting(i -> i.imageId())
                    .as(region)
                    .doesNotContain(amis1.get(region))
                    .contains(amis2.get(region));
            assertThatThrownBy(() -> ec2.describeSnapshots(b -> b.snapshotIds(snaps1.get(region))))
                    .as(region)
                    .satisfies(e -> assertThat(dev.kiln.aws.AwsErrors.code(e)).isEqualTo("InvalidSnapshot.NotFound"));
        }
        assertThat(run.out())
                .contains(
                        "deregistered " + amis1.get(HOME) + " in " + HOME,
                        "deregistered " + amis1.get(COPY) + " in " + COPY,
                        "deleted snapshot " + snaps1.get(COPY) + " in " + COPY,
                        "deleted node:1.0.1");
        assertThat(PruneFixtures.visible(local)).containsExactly("node:1.0.2", "node:1.0.3");
        assertThat(run.out())
                .doesNotContain("deregistered " + amis2.get(COPY))
                .doesNotContain("deregistered " + amis2.get(HOME));
        assertThat(Published.read(local.dir(v2)).amis()).hasSize(2);
    }

    Map<String, String> publishAmis(ImageRef ref) throws Exception {
        return new AmiPublisher(clients, Progress.SILENT, PublishListener.NONE)
                .workers(4)
                .polling(Duration.ofMillis(100), Duration.ofSeconds(30))
                .publish(local, ref, new AmiPublisher.Options(HOME, List.of(COPY), List.of(), null))
                .images();
    }

    Ec2Client ec2(String region) {
        return clients.ec2(Region.of(region));
    }

    private static String[] concat(String[] a, String... b) {
        return java.util.stream.Stream.concat(java.util.stream.Stream.of(a), java.util.stream.Stream.of(b))
                .toArray(String[]::new);
    }
}
