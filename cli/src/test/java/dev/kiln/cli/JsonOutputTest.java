package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageStore;
import dev.kiln.fleet.TestStore;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Commands that print tables also print JSON, so scripts never parse columns. */
class JsonOutputTest {
    @TempDir
    Path tmp;

    @Test
    void imagesJsonListsEveryVersionWithItsManifest() throws Exception {
        ImageStore store = new ImageStore(tmp.resolve("store"));
        TestStore.pxeVersion(store, "debian-node", "1.0.0", 16);
        TestStore.pxeVersion(store, "debian-node", "1.0.1", 16);

        String out = run("images", "--store", store.root().toString(), "--json");
        JsonNode list = Json.MAPPER.readTree(out);
        assertThat(list.isArray()).as(out).isTrue();
        assertThat(list)
                .extracting(
                        n -> n.path("name").asText() + ":" + n.path("version").asText())
                .containsExactlyInAnyOrder("debian-node:1.0.0", "debian-node:1.0.1");
        assertThat(list.get(0).path("artifacts").has("pxe/rootfs.squashfs")).isTrue();

        String table = run("images", "--store", store.root().toString());
        assertThat(table.lines().findFirst().orElse("")).startsWith("NAME").contains("VERSION", "KERNEL");
        assertThat(table).contains("1.0.0", "1.0.1");
    }

    private static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream capture = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            assertThat(Main.run(args))
                    .as("exit status of kiln " + String.join(" ", args))
                    .isZero();
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
