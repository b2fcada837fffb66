package dev.kiln.builder.repro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.json.Json;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What rebuild-check decides without building anything. */
class RebuildCheckTest {
    @TempDir
    Path tmp;

    @Test
    void aSpecThatChangedSinceTheBuildIsRefusedBeforeBuilding() throws Exception {
        ImageStore store = new ImageStore(tmp.resolve("store"));
        Path dir = store.dir(new ImageRef("node", "1.0"));
        Files.createDirectories(dir);
        Path spec = Files.writeString(tmp.resolve("node.yaml"), "name: node\nversion: '1.0'\n");
        Json.MAPPER.writeValue(
                dir.resolve(ImageStore.MANIFEST).toFile(),
                new Manifest(
                        Manifest.SCHEMA,
                        "node",
                        "1.0",
                        null,
                        "0".repeat(64),
                        "2026-11-27T00:00:00Z",
                        1.0,
                        "test",
                        null,
                        null,
                        Map.of(),
                        Map.of(),
                        List.of(),
                        Map.of(),
                        List.of(),
                        List.of("pxe"),
                        Map.of(),
                        null,
                        new Manifest.Reproducible(1_783_764_997L, "2026-07-11T10:16:37Z", "test", spec.toString())));
        assertThatThrownBy(() -> RebuildCheck.run(
                        store,
                        new ImageRef("node", "1.0"),
                        new RebuildCheck.Options(null, null, null, false),
                        Progress.SILENT))
                .hasMessageContaining(spec.toString())
                .hasMessageContaining("the spec changed since")
                .hasMessageContaining("--spec");
        assertThat(store.root().resolve(".rebuild-check")).doesNotExist();
    }

    @Test
    void withoutDiffoscopeTheContentsListingShowsWhatDiffers() throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        contents(a, "/etc\td\trwxr-xr-x\t0:0\t0\t-\n/etc/motd\tf\trw-r--r--\t0:0\t6\taaaa\n");
        contents(b, "/etc\td\trwxr-xr-x\t0:0\t0\t-\n/etc/motd\tf\trw-r--r--\t0:0\t6\tbbbb\n");
        Files.writeString(a.resolve("rootfs.tar"), "same prefix, then A");
        Files.writeString(b.resolve("rootfs.tar"), "same prefix, then B");
        assertThat(RebuildCheck.contentsDifference(
                        a, b, "rootfs.tar", a.resolve("rootfs.tar"), b.resolve("rootfs.tar")))
                .contains("- /etc/motd\tf\trw-r--r--\t0:0\t6\taaaa")
                .contains("+ /etc/motd\tf\trw-r--r--\t0:0\t6\tbbbb")
                .doesNotContain("/etc\td");
        contents(b, "/etc\td\trwxr-xr-x\t0:0\t0\t-\n/etc/motd\tf\trw-r--r--\t0:0\t6\taaaa\n");
        assertThat(RebuildCheck.contentsDifference(
                        a, b, "rootfs.tar", a.resolve("rootfs.tar"), b.resolve("rootfs.tar")))
                .contains("rootfs.tar first differs at byte 18");
    }

    private static void contents(Path dir, String text) throws Exception {
        Files.createDirectories(dir);
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(dir.resolve("contents.tsv.gz")))) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }
}
