package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.fleet.KilnServer;
import dev.kiln.release.EnvironmentsLoader;
import dev.kiln.release.Identity;
import dev.kiln.release.LocalReleaseStore;
import dev.kiln.release.Releases;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln prune on a local store of hand-made versions, against a real kiln serve on loopback, with
 * promotion records and pins as kiln promote and kiln pin write them.
 */
class PruneCommandTest {
    static final String INVENTORY = """
            clusters:
              - name: lab
                image: "node:1.0.2"
                nodes:
                  - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15}
            """;

    @TempDir
    Path tmp;

    ImageStore store;
    Path inventory;

    @BeforeEach
    void setUp() throws Exception {
        store = new ImageStore(tmp.resolve("store"));
        PruneFixtures.fiveVersions(store, "node");
        inventory = tmp.resolve("inventory.yaml");
        Files.writeString(inventory, INVENTORY);
    }

    Releases releases() {
        return new Releases(new LocalReleaseStore(store), Clock.systemUTC(), new Identity("alice", "KILN_ACTOR"), null);
    }

    void promote(String version, String env) throws Exception {
        try (Releases r = releases()) {
            r.promote(
                    EnvironmentsLoader.parse(tmp.resolve("environments.yaml"), "environments:\n  - name: prod\n"),
                    new ImageRef("node", version),
                    env,
                    null,
                    Map.of());
        }
    }

    @Test
    void keepOneDeletesExactlyTheVersionsNothingProtectsAndTheDryRunSaidSoWithReasons() throws Exception {
        promote("1.0.5", "prod");
        assertThat(PruneFixtures.kiln(
                                "pin",
                                "node:1.0.1",
                                "--reason",
                                "legal hold",
                                "--store",
                                store.root().toString())
                        .status())
                .isZero();
        KilnServer.Options o =
                new KilnServer.Options(inventory, store, "127.0.0.1", 0, null, tmp.resolve("state"), 100);
        try (KilnServer server = KilnServer.start(o)) {
            String url = "http://127.0.0.1:" + server.port();
            String[] prune = {
                "prune",
                "--keep",
                "1",
                "--store",
                store.root().toString(),
                "--server",
                url,
                "--token",
                server.operatorToken(),
                "--no-docker"
            };

            PruneFixtures.Run dry = PruneFixtures.kiln(concat(prune, "--dry-run"));
            assertThat(dry.status()).isZero();
            List<String> lines = dry.out().lines().toList();
            assertThat(lines.stream().filter(l -> l.startsWith("would delete")))
                    .containsExactly(
                            "would delete node:1.0.4  (built 2026-11-04T00:00:00Z, " + sizeOf("1.0.4") + ")",
                            "would delete node:1.0.3  (built 2026-11-03T00:00:00Z, " + sizeOf("1.0.3") + ")");
            assertThat(dry.out())
                    .contains("keep         node:1.0.5  prod points to it (since ")
                    .contains("one of the newest 1 of node (--keep 1)")
                    .contains("keep         node:1.0.2  assigned to node lab/m1 (kiln serve " + url + ")")
                    .contains("keep         node:1.0.1  pinned by ")
                    .contains(": legal hold")
                    .contains("note: nodes: asked kiln serve " + url)
                    .contains("note: rollouts: no rollouts");
            assertThat(PruneFixtures.visible(store))
                    .as("a dry run deletes nothing")
                    .hasSize(5);

            PruneFixtures.Run real = PruneFixtures.kiln(prune);
            assertThat(real.status()).as(real.out()).isZero();
            assertThat(real.out()).contains("deleted node:1.0.3", "deleted node:1.0.4");
        }
        assertThat(PruneFixtures.visible(store)).containsExactly("node:1.0.1", "node:1.0.2", "node:1.0.5");
        assertThat(store.root().resolve("node/1.0.3")).doesNotExist();
        assertThat(listing(store.root().resolve(".trash"))).isEmpty();
        // The records stay: kiln channels still has prod.
        try (Releases r = releases()) {
            assertThat(r.ledger("node").current("prod").version()).isEqualTo("1.0.5");
        }
    }

    @Test
    void withoutAServerItSaysItCouldNotCheckAndKeepsWhatTheInventoriesAssignAndTheRollbackWindow() throws Exception {
        promote("1.0.3", "prod");
        promote("1.0.5", "prod");
        PruneFixtures.kiln(
                "pin", "node:1.0.1", "--reason", "hold", "--store", store.root().toString());
        assertThat(PruneFixtures.kiln(
                                "unpin", "node:1.0.1", "--store", store.root().toString())
                        .out())
                .contains("unpinned node:1.0.1");

        PruneFixtures.Run run = PruneFixtures.kiln(
                "prune",
                "--keep",
                "1",
                "--store",
                store.root().toString(),
                "--inventory",
                inventory.toString(),
                "--no-docker");
        assertThat(run.status()).as(run.out()).isZero();
        assertThat(run.out())
                .contains("note: could not check what nodes run or are assigned: no kiln serve to ask (--server)")
                .contains("keep         node:1.0.2  cluster lab's image in inventory " + inventory)
                .contains(
                        "keep         node:1.0.3  prod's rollback window: kiln promote node --rollback prod returns to it")
                .contains("deleted node:1.0.1", "deleted node:1.0.4");
        assertThat(PruneFixtures.visible(store)).containsExactly("node:1.0.2", "node:1.0.3", "node:1.0.5");
    }

    @Test
    void aPruneKilledAfterHidingAVersionLeavesNothingHalfVisibleAndARerunFinishes() throws Exception {
        PruneFixtures.Run killed = PruneFixtures.killedAt(
                "local-renamed",
                tmp.resolve("prune.log"),
                List.of(),
                "prune",
                "--keep",
                "3",
                "--store",
                store.root().toString(),
                "--no-docker");
        assertThat(killed.status()).as(killed.out()).isEqualTo(137);
        assertThat(killed.out()).contains("halting at local-renamed");
        // 1.0.2 went first (newest first); it is out of sight in one piece, 1.0.1 untouched.
        assertThat(PruneFixtures.visible(store))
                .containsExactly("node:1.0.1", "node:1.0.3", "node:1.0.4", "node:1.0.5");
        for (String v : PruneFixtures.visible(store)) {
            ImageRef ref = ImageRef.parse(v);
            store.manifest(ref)
                    .artifacts()
                    .forEach((path, a) -> assertThat(store.dir(ref).resolve(path))
                            .as(v + " " + path)
                            .hasSize(a.size()));
        }
        assertThat(listing(store.root().resolve(".trash"))).hasSize(1).allMatch(n -> n.startsWith("node_1.0.2."));

        PruneFixtures.Run again = PruneFixtures.kiln(
                "prune", "--keep", "3", "--store", store.root().toString(), "--no-docker");
        assertThat(again.status()).as(again.out()).isZero();
        assertThat(again.out())
                .contains("finished deleting node:1.0.2 (an interrupted prune had hidden it)", "deleted node:1.0.1");
        assertThat(PruneFixtures.visible(store)).containsExactly("node:1.0.3", "node:1.0.4", "node:1.0.5");
        assertThat(listing(store.root().resolve(".trash"))).isEmpty();
    }

    @Test
    void cacheMaxDeletesTheLeastRecentlyUsedPackageLayersUntilTheRestFit() throws Exception {
        Path layers = Files.createDirectories(tmp.resolve("cache/layers"));
        Instant t = Instant.parse("2026-11-01T00:00:00Z");
        for (String[] l : new String[][] {{"old", "0"}, {"mid", "1"}, {"new", "2"}}) {
            Path f = layers.resolve(l[0] + ".tar");
            Files.write(f, new byte[1000]);
            Files.setLastModifiedTime(f, FileTime.from(t.plusSeconds(3600L * Integer.parseInt(l[1]))));
        }
        Files.write(layers.resolve(".partial.4242.tar"), new byte[5000]); // a build writing: not counted, not touched
        PruneFixtures.Run run = PruneFixtures.kiln(
                "prune",
                "--keep",
                "10",
                "--store",
                store.root().toString(),
                "--no-docker",
                "--layer-cache",
                tmp.resolve("cache").toString(),
                "--cache-max",
                "2500");
        assertThat(run.status()).as(run.out()).isZero();
        assertThat(run.out()).contains("deleted package layer old.tar");
        assertThat(listing(layers)).containsExactlyInAnyOrder("mid.tar", "new.tar", ".partial.4242.tar");
    }

    @Test
    void badPolicyAndUnknownPinsAreClearErrors() throws Exception {
        assertThat(PruneFixtures.kiln("prune", "--store", store.root().toString())
                        .status())
                .isNotZero();
        assertThat(PruneFixtures.kiln(
                                "prune",
                                "--older-than",
                                "soon",
                                "--store",
                                store.root().toString())
                        .status())
                .isNotZero();
        assertThat(PruneFixtures.kiln(
                                "pin",
                                "node:9.9.9",
                                "--reason",
                                "x",
                                "--store",
                                store.root().toString())
                        .status())
                .isNotZero();
        assertThat(PruneFixtures.visible(store)).hasSize(5);
    }

    private String sizeOf(String version) throws Exception {
        long n;
        try (Stream<Path> s = Files.walk(store.dir(new ImageRef("node", version)))) {
            n = s.filter(Files::isRegularFile)
                    .mapToLong(p -> p.toFile().length())
                    .sum();
        }
        return String.format("%.1f KiB", n / 1024.0);
    }

    private static List<String> listing(Path dir) throws Exception {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    private static String[] concat(String[] a, String... b) {
        return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
    }
}
