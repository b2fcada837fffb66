package dev.kiln.builder.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.builder.TestSupport;
import dev.kiln.builder.build.ImageBuilder;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A build stopped midway, by kill -9 or by Ctrl-C, leaves no visible version; Ctrl-C also leaves no
 * process, mount, staging directory or partial cache entry behind.
 */
@Tag("vm")
class KilledBuildTest {
    @TempDir
    Path tmp;

    @Test
    void buildKilledMidwayLeavesNothingInTheStore() throws Exception {
        TestImages.debianNode(); // warms the package layer, so the build below gets to assembling
        // fast
        ImageStore store = TestImages.store();
        Path spec = tmp.resolve("debian-node.yaml");
        Files.writeString(
                spec,
                Files.readString(TestSupport.repo("image-specs/debian-node.yaml"))
                        .replace("version: 1.0.0-20261127.1", "version: 1.0.0-killed")
                        .replace(
                                "name: debian-node\n",
                                "name: debian-node\ntemplates: " + TestSupport.repo("templates") + "\n"));
        ImageRef ref = new ImageRef("debian-node", "1.0.0-killed");

        Process build = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        BuildProcess.class.getName(),
                        spec.toString(),
                        store.root().toString(),
                        TestImages.cacheDir().toString())
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("build.log").toFile())
                .start();
        Path staging = store.root().resolve(".staging/debian-node_1.0.0-killed." + build.pid());
        try {
            // Wait until the build is writing artifacts into its staging directory, then kill it
            // hard.
            long deadline = System.nanoTime() + 300_000_000_000L;
            while (!Files.exists(staging.resolve("rootfs.tar")) && build.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(build.isAlive())
                    .as("build still running when killed; log: " + tmp.resolve("build.log"))
                    .isTrue();
        } finally {
            build.descendants().forEach(ProcessHandle::destroyForcibly);
            build.destroyForcibly();
            build.waitFor();
        }

        assertThat(store.exists(ref)).isFalse();
        assertThat(store.list()).extracting(Manifest::ref).doesNotContain(ref.toString());
        assertThat(store.dir(ref)).doesNotExist();

        // The next build sweeps the dead build's staging directory and can build that version.
        Path dir = new ImageBuilder(store, TestImages.cacheDir(), Progress.SILENT).build(spec);
        assertThat(staging).doesNotExist();
        assertThat(store.exists(ref)).isTrue();
        assertThat(dir).isEqualTo(store.dir(ref));
        try (Stream<Path> left = Files.list(store.root().resolve(".staging"))) {
            List<Path> dirs = left.filter(Files::isDirectory).toList();
            assertThat(dirs).isEmpty();
        }
    }

    @Test
    void ctrlCDuringMmdebstrapStopsItAndCleansUp() throws Exception {
        ImageStore store = TestImages.store();
        Path cache = tmp.resolve("cold-cache"); // a cold cache, so mmdebstrap really runs
        Path spec = tmp.resolve("debian-node.yaml");
        Files.writeString(
                spec,
                Files.readString(TestSupport.repo("image-specs/debian-node.yaml"))
                        .replace("version: 1.0.0-20261127.1", "version: 1.0.0-interrupted")
                        .replace(
                                "name: debian-node\n",
                                "name: debian-node\ntemplates: " + TestSupport.repo("templates") + "\n"));
        Process build = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        System.getProperty("java.class.path"),
                        BuildProcess.class.getName(),
                        spec.toString(),
                        store.root().toString(),
                        cache.toString())
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("build.log").toFile())
                .start();
        Path staging = store.root().resolve(".staging/debian-node_1.0.0-interrupted." + build.pid());
        try {
            long deadline = System.nanoTime() + 120_000_000_000L;
            // Wait until mmdebstrap has unpacked packages into its chroot inside the staging
            // directory.
            while (build.isAlive() && System.nanoTime() < deadline && !chrootPopulated(staging.resolve(".work/tmp"))) {
                Thread.sleep(200);
            }
            assertThat(build.isAlive())
                    .as("build ended before it could be interrupted")
                    .isTrue();
            List<ProcessHandle> tools = build.descendants().toList();
            dev.kiln.core.exec.Exec.of("kill", "-INT", String.valueOf(build.pid()))
                    .run();
            assertThat(build.waitFor(90, java.util.concurrent.TimeUnit.SECONDS))
                    .as("build exits after Ctrl-C")
                    .isTrue();
            for (ProcessHandle tool : tools) {
                tool.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
            }
        } finally {
            build.descendants().forEach(ProcessHandle::destroyForcibly);
            build.destroyForcibly();
        }
        assertThat(staging).doesNotExist();
        assertThat(store.exists(new ImageRef("debian-node", "1.0.0-interrupted")))
                .isFalse();
        assertThat(Files.readString(Path.of("/proc/self/mounts")))
                .doesNotContain(store.root().toString());
        try (Stream<Path> partial = Files.walk(cache)) {
            assertThat(partial.filter(Files::isRegularFile).toList())
                    .as("partial package layers")
                    .isEmpty();
        }
    }

    private static boolean chrootPopulated(Path tmpDir) throws java.io.IOException {
        if (!Files.isDirectory(tmpDir)) {
            return false;
        }
        try (Stream<Path> s = Files.walk(tmpDir, 3)) {
            return s.anyMatch(p -> p.endsWith("usr/bin"));
        }
    }
}
