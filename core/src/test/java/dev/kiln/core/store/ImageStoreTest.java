package dev.kiln.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageStoreTest {
    @TempDir
    Path root;

    static Manifest manifest(String name, String version) {
        return new Manifest(
                Manifest.SCHEMA,
                name,
                version,
                null,
                "0".repeat(64),
                "2026-11-27T00:00:00Z",
                1.0,
                "test",
                new Manifest.Base("debian", "bookworm", "http://deb.debian.org/debian", null, List.of(), "x"),
                new Manifest.Kernel("linux-image-x", "1", "6.1.0-50-cloud-amd64", ""),
                Map.of(),
                Map.of(),
                List.of(),
                Map.of(),
                List.of(),
                List.of("rootfs-tar"),
                Map.of(),
                Map.of());
    }

    @Test
    void stagedVersionIsInvisibleUntilCommitted() throws Exception {
        ImageStore store = new ImageStore(root);
        ImageRef ref = new ImageRef("node", "1.0.0");
        try (ImageStore.Staging s = store.stage(ref)) {
            Files.writeString(s.dir().resolve("rootfs.tar"), "bytes");
            assertThat(store.list()).isEmpty();
            assertThat(store.exists(ref)).isFalse();
            s.commit(manifest("node", "1.0.0"));
        }
        assertThat(store.exists(ref)).isTrue();
        assertThat(store.list()).extracting(Manifest::ref).containsExactly("node:1.0.0");
        assertThat(store.dir(ref).resolve("rootfs.tar")).hasContent("bytes");
    }

    @Test
    void existingVersionIsRefused() throws Exception {
        ImageStore store = new ImageStore(root);
        ImageRef ref = new ImageRef("node", "1.0.0");
        try (ImageStore.Staging s = store.stage(ref)) {
            s.commit(manifest("node", "1.0.0"));
        }
        assertThatThrownBy(() -> store.stage(ref))
                .isInstanceOf(ImageStore.VersionExistsException.class)
                .hasMessageContaining("node:1.0.0 already exists")
                .hasMessageContaining("immutable");
    }

    @Test
    void abandonedStagingLeavesNothing() throws Exception {
        ImageStore store = new ImageStore(root);
        Path staged;
        try (ImageStore.Staging s = store.stage(new ImageRef("node", "2.0.0"))) {
            staged = s.dir();
            Files.writeString(staged.resolve("half-written"), "x");
        }
        assertThat(staged).doesNotExist();
        assertThat(store.list()).isEmpty();
    }

    @Test
    void stagingOfADeadBuildIsSweptByTheNextOne() throws Exception {
        ImageStore store = new ImageStore(root);
        // What a kill -9 leaves: a staging directory owned by a process that no longer exists.
        Path dead = root.resolve(".staging/node_3.0.0.999999999");
        Files.createDirectories(dead);
        Files.writeString(dead.resolve("rootfs.tar"), "partial");
        assertThat(store.list()).isEmpty();
        try (ImageStore.Staging s = store.stage(new ImageRef("other", "1"))) {
            assertThat(dead).doesNotExist();
        }
    }

    @Test
    void concurrentBuildOfTheSameVersionIsRefused() throws Exception {
        ImageStore store = new ImageStore(root);
        ImageRef ref = new ImageRef("node", "4.0.0");
        try (ImageStore.Staging s = store.stage(ref)) {
            assertThatThrownBy(() -> store.stage(ref)).hasMessageContaining("being built by another kiln process");
        }
    }

    @Test
    void unknownImageIsAClearError() {
        assertThatThrownBy(() -> new ImageStore(root).manifest(new ImageRef("node", "9")))
                .hasMessageContaining("no image node:9");
    }
}
