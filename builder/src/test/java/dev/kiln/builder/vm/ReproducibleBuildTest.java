package dev.kiln.builder.vm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.builder.TestImages;
import dev.kiln.builder.TestSupport;
import dev.kiln.builder.repro.RebuildCheck;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The shared debian-node image built a second time, by kiln rebuild-check, into a scratch store
 * with its own (empty) package cache, so mmdebstrap, the initramfs and every artifact writer run
 * again: every artifact must come out with the same sha256. The one extra build of the suite.
 */
@Tag("vm")
class ReproducibleBuildTest {
    @Test
    void aSecondBuildWithItsOwnStoreAndPackageCacheIsIdenticalBitForBit() throws Exception {
        Manifest m = TestImages.debianNode();
        TestImages.RecordingProgress progress = new TestImages.RecordingProgress();
        RebuildCheck.Result r = RebuildCheck.run(
                TestImages.store(),
                new ImageRef(m.name(), m.version()),
                new RebuildCheck.Options(TestSupport.repo("image-specs/debian-node.yaml"), null, null, false),
                progress);

        assertThat(r.differences()).as(r.detail()).isEmpty();
        assertThat(r.identical()).isTrue();
        assertThat(r.artifacts()).isEqualTo(m.artifacts().size()).isGreaterThanOrEqualTo(7);
        // It really built again, package layer included, rather than reusing the shared cache.
        assertThat(progress.lines).anyMatch(l -> l.contains("built layer"));
        // Nothing of the scratch store or its cache is left.
        Path scratch = TestImages.store().root().resolve(".rebuild-check");
        try (Stream<Path> left = Files.list(scratch)) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void theImageSaysItWasBuiltAtTheSourceDateAndTheManifestKeepsTheWallClock() throws Exception {
        Manifest m = TestImages.debianNode();
        assertThat(m.reproducible()).isNotNull();
        assertThat(m.reproducible().sourceDateFrom()).contains("Release Date");
        Path tar = TestImages.dirOf(m).resolve("rootfs.tar");
        JsonNode identity = Json.MAPPER.readTree(
                Exec.of("tar", "-xOf", tar.toString(), "./etc/kiln/image.json").run());
        assertThat(identity.get("builtAt").asText())
                .isEqualTo(m.reproducible().sourceDate())
                .isEqualTo(Instant.ofEpochSecond(m.reproducible().sourceDateEpoch())
                        .toString());
        assertThat(Instant.parse(m.builtAt()))
                .isAfter(Instant.ofEpochSecond(m.reproducible().sourceDateEpoch()));
        // No path in the image is newer than the epoch.
        String listing = Exec.of("tar", "--full-time", "-tvf", tar.toString()).run();
        String epochTime = Instant.ofEpochSecond(m.reproducible().sourceDateEpoch())
                .toString()
                .replace('T', ' ')
                .replace("Z", "");
        assertThat(listing.lines().map(l -> l.split("\\s+")).filter(f -> (f[3] + " " + f[4]).compareTo(epochTime) > 0))
                .isEmpty();
    }
}
