package dev.kiln.release;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ssm.model.Parameter;

/**
 * Promotion records in S3 (moto), next to versions kiln publish --s3 put there, and the SSM
 * parameters of an environment. moto 5.1 honours If-None-Match on PutObject (what decides a race
 * here) but ignores If-Match, so the pointer's conditional replace is not exercised by it.
 */
@Tag("aws")
class S3ReleaseTest {
    static final String HOME = "us-east-1";
    static final String COPY = "eu-west-1";
    static final String ENVIRONMENTS = "environments:\n  - name: dev\n  - name: prod\n    from: dev\n";

    @TempDir
    Path tmp;

    Moto moto;
    AwsClients clients;
    ImageStore local;
    Environments envs;
    final S3Location bucket = S3Location.parse("s3://kiln-images/team");

    @BeforeEach
    void setUp() throws Exception {
        moto = Moto.shared();
        clients = moto.freshClients(HOME, 4);
        clients.s3(Region.US_EAST_1).createBucket(b -> b.bucket(bucket.bucket()));
        local = new ImageStore(tmp.resolve("store"));
        envs = EnvironmentsLoader.parse(tmp.resolve("environments.yaml"), ENVIRONMENTS);
    }

    @AfterEach
    void close() {
        clients.close();
    }

    ImageRef publishedToS3(String version) throws Exception {
        ImageRef ref = Fixtures.version(local, "debian-node", version);
        new S3Publisher(clients, Progress.SILENT, PublishListener.NONE).publish(local, ref, bucket);
        return ref;
    }

    /** Another kiln, as on another machine: its own empty cache. */
    S3ReleaseStore s3Store(String cache) throws Exception {
        return S3ReleaseStore.open(bucket, moto.settings(HOME), tmp.resolve(cache));
    }

    Releases as(String who, ReleaseStore store) {
        return new Releases(store, Clock.systemUTC(), new Identity(who, "GITHUB_ACTOR"), null);
    }

    @Test
    void ofTwoConcurrentPromotionsOfDifferentVersionsExactlyOneWinsAndTheHistoryHasBoth() throws Exception {
        publishedToS3("1.0.0");
        publishedToS3("1.0.1");
        CyclicBarrier bothRead = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Releases.Outcome> won = new ArrayList<>();
        List<PromotionConflictException> lost = new ArrayList<>();
        try {
            List<Future<Releases.Outcome>> results = new ArrayList<>();
            for (String[] who : new String[][] {{"alice", "1.0.0"}, {"bob", "1.0.1"}}) {
                Releases r = as(who[0], Fixtures.racing(s3Store("cache-" + who[0]), bothRead));
                results.add(pool.submit(() -> {
                    try (r) {
                        return r.promote(envs, new ImageRef("debian-node", who[1]), "dev", "by " + who[0], Map.of());
                    }
                }));
            }
            for (Future<Releases.Outcome> f : results) {
                try {
                    won.add(f.get());
                } catch (ExecutionException e) {
                    lost.add((PromotionConflictException) e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(won).hasSize(1);
        assertThat(lost).hasSize(1);
        Event winner = won.get(0).event();
        String loserVersion = winner.version().equals("1.0.0") ? "1.0.1" : "1.0.0";
        assertThat(lost.get(0).getMessage())
                .contains("was changed at the same moment by " + winner.by())
                .contains("debian-node:" + loserVersion + " was NOT promoted");

        // A third kiln with an empty cache reads it all from S3: one promotion, one conflict.
        try (Releases reader = as("carol", s3Store("cache-carol"))) {
            List<Event> history = reader.ledger("debian-node").events();
            assertThat(history)
                    .extracting(Event::seq, Event::type, Event::version)
                    .containsExactly(
                            org.assertj.core.groups.Tuple.tuple(1L, "promote", winner.version()),
                            org.assertj.core.groups.Tuple.tuple(2L, "conflict", loserVersion));
            assertThat(history.get(1).lostTo()).isEqualTo(1L);
            assertThat(reader.channels("debian-node", envs).get(0).current().version())
                    .isEqualTo(winner.version());
        }
        // The pointer object next to the versions says the same.
        String pointer = clients.s3(Region.US_EAST_1)
                .getObjectAsBytes(b -> b.bucket("kiln-images").key("team/debian-node/.release/channels/dev.json"))
                .asUtf8String();
        assertThat(Releases.JSON.readValue(pointer, Releases.Pointer.class).version())
                .isEqualTo(winner.version());
    }

    @Test
    void aSecondKilnWithAnEmptyCacheReadsTheSameChannelsFromS3() throws Exception {
        ImageRef v1 = publishedToS3("1.0.0");
        ImageRef v2 = publishedToS3("1.0.1");
        try (Releases first = as("alice", s3Store("cache-a"))) {
            first.promote(envs, v1, "dev", null, Map.of());
            first.promote(envs, v1, "prod", "go", Map.of());
            first.promote(envs, v2, "dev", null, Map.of());
            first.revoke(v2, "broken etcd");
        }
        // Events it read back are cached (they never change); the cache only saves downloads.
        assertThat(tmp.resolve("cache-a/debian-node/.release/events/0000000003.json"))
                .exists();
        try (Releases second = as("bob", s3Store("cache-b"))) {
            List<Releases.Channel> channels = second.channels("debian-node", envs);
            assertThat(channels)
                    .extracting(c -> c.env()
                            + "="
                            + c.current().version()
                            + " by "
                            + c.current().by()
                            + (c.revocation() == null
                                    ? ""
                                    : " REVOKED: " + c.revocation().reason()))
                    .containsExactly("dev=1.0.1 by alice REVOKED: broken etcd", "prod=1.0.0 by alice");
            // The records are in S3, not only in a cache: the second kiln's rollback is seen by the
            // first.
            second.rollback("debian-node", "dev", "revoked");
        }
        try (S3ReleaseStore again = s3Store("cache-a")) {
            var state = new ReleaseChannels(again).read(List.of("debian-node"));
            assertThat(state.resolve(new dev.kiln.core.store.ChannelRef("debian-node", "dev"))
                            .version())
                    .isEqualTo(v1);
            assertThat(state.revoked(v2)).startsWith("revoked by alice at ").endsWith(": broken etcd");
            assertThat(state.revoked(v1)).isNull();
        }
    }

    @Test
    void promotingAVersionWithAmisPointsTheEnvironmentsSsmParameterAtTheAmiOfEachRegion() throws Exception {
        ImageRef ref = PublishFixture.version(local, "node", "1.0.0", "2026-11-27T00:00:00Z");
        AmiPublisher.Result ami = new AmiPublisher(clients, Progress.SILENT, PublishListener.NONE)
                .workers(4)
                .polling(Duration.ofMillis(100), Duration.ofSeconds(30))
                .publish(local, ref, new AmiPublisher.Options(HOME, List.of(COPY), List.of(), null));
        assertThat(Published.read(local.dir(ref)).amis()).hasSize(2);

        try (Releases r = new Releases(
                new LocalReleaseStore(local),
                Clock.systemUTC(),
                new Identity("alice", "KILN_ACTOR"),
                new SsmChannels(moto.settings(HOME)))) {
            Releases.Outcome o = r.promote(envs, ref, "dev", null, Map.of());
            assertThat(o.event().ssm())
                    .extracting(Event.SsmTarget::region, Event.SsmTarget::imageId)
                    .containsExactlyInAnyOrder(
                            org.assertj.core.groups.Tuple.tuple(
                                    HOME, ami.images().get(HOME)),
                            org.assertj.core.groups.Tuple.tuple(
                                    COPY, ami.images().get(COPY)));
        }
        for (String region : List.of(HOME, COPY)) {
            Parameter p = clients.ssm(Region.of(region))
                    .getParameter(b -> b.name("/kiln/images/node/dev"))
                    .parameter();
            assertThat(p.value()).as(region).isEqualTo(ami.images().get(region));
            assertThat(p.dataType()).isEqualTo("aws:ec2:image");
        }
        assertThat(ami.images().get(HOME)).isNotEqualTo(ami.images().get(COPY));
    }
}
