package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.exec.Exec;
import dev.kiln.core.store.ImageStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln prune removes the kiln-node/NAME:VERSION-SHA12 images (as kiln validate's container provider
 * names them) of versions the store no longer has, and no other: a unique image name keeps other
 * users' images on the shared dockerd out of it.
 */
@Tag("docker")
class PruneDockerTest {
    @TempDir
    Path tmp;

    @Test
    void nodeImagesOfVersionsNoLongerInTheStoreGoTheOthersStay() throws Exception {
        String name = "prunetest-" + UUID.randomUUID().toString().substring(0, 8);
        ImageStore store = new ImageStore(tmp.resolve("store"));
        PruneFixtures.version(store, name, "1.0.2", "2026-11-02T00:00:00Z");
        PruneFixtures.version(store, name, "1.0.3", "2026-11-03T00:00:00Z");
        String gone = "kiln-node/" + name + ":1.0.1-0123456789ab"; // its version was pruned long ago
        String pruned = "kiln-node/" + name + ":1.0.2-0123456789ab"; // its version goes now
        String kept = "kiln-node/" + name + ":1.0.3-0123456789ab";
        String other = "kiln-node/other" + name + ":1.0.1-0123456789ab"; // a name this store does not have
        Path tar = tmp.resolve("empty.tar");
        Exec.of("tar", "-cf", tar.toString(), "-T", "/dev/null").run();
        List<String> all = List.of(gone, pruned, kept, other);
        try {
            for (String tag : all) {
                Exec.of(
                                "docker",
                                "image",
                                "import",
                                "--change",
                                "LABEL dev.kiln.image=" + tag.substring(10, tag.lastIndexOf('-')),
                                tar.toString(),
                                tag)
                        .run();
            }
            PruneFixtures.Run dry = PruneFixtures.kiln(
                    "prune", "--keep", "1", "--store", store.root().toString(), "--dry-run");
            assertThat(dry.out())
                    .contains("would delete docker image " + gone, "would delete docker image " + pruned)
                    .doesNotContain("docker image " + kept)
                    .doesNotContain("docker image " + other);
            PruneFixtures.Run run = PruneFixtures.kiln(
                    "prune", "--keep", "1", "--store", store.root().toString());
            assertThat(run.status()).as(run.out()).isZero();
            assertThat(run.out()).contains("deleted docker image " + gone, "deleted docker image " + pruned);
            String left = Exec.of("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
                    .run();
            assertThat(left)
                    .doesNotContain(gone)
                    .doesNotContain(pruned)
                    .contains(kept)
                    .contains(other);
        } finally {
            for (String tag : all) {
                Exec.of("docker", "image", "rm", "-f", tag).runAllowingFailure();
            }
            Files.deleteIfExists(tar);
        }
    }
}
