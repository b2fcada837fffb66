package dev.kiln.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.TestStore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Hand-made versions (no image builds) and ways to run kiln for the prune tests. */
final class PruneFixtures {
    private PruneFixtures() {}

    /** NAME:VERSION made by fleet's TestStore, built at {@code builtAt} (prune orders by it). */
    static ImageRef version(ImageStore store, String name, String version, String builtAt) throws IOException {
        Path dir = TestStore.pxeVersion(store, name, version, 8192);
        Path manifest = dir.resolve(ImageStore.MANIFEST);
        ObjectNode m = (ObjectNode) Json.MAPPER.readTree(manifest.toFile());
        m.put("builtAt", builtAt);
        Json.MAPPER.writeValue(manifest.toFile(), m);
        return new ImageRef(name, version);
    }

    /** Five versions of {@code name}, 1.0.1 (oldest) to 1.0.5 (newest). */
    static void fiveVersions(ImageStore store, String name) throws IOException {
        for (int i = 1; i <= 5; i++) {
            version(store, name, "1.0." + i, "2026-11-0" + i + "T00:00:00Z");
        }
    }

    /** The versions a reader of the store sees. */
    static List<String> visible(ImageStore store) throws IOException {
        List<String> out = new ArrayList<>();
        for (Manifest m : store.list()) {
            out.add(m.ref());
        }
        return out;
    }

    record Run(int status, String out) {}

    /** kiln ARGS in this JVM, its standard output captured. */
    static Run kiln(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int status;
        try (PrintStream capture = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            status = Main.run(args);
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        System.out.print(out); // in the test log too
        return new Run(status, out);
    }

    /**
     * kiln ARGS in its own JVM that halts (as if killed with SIGKILL) at the prune crash point
     * {@code haltAt}.
     */
    static Run killedAt(String haltAt, Path log, List<String> jvmProperties, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dkiln.test.prune.haltAt=" + haltAt));
        cmd.addAll(jvmProperties);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        if (!p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("kiln prune did not halt within 2 minutes: " + Files.readString(log));
        }
        return new Run(p.exitValue(), Files.readString(log));
    }
}
