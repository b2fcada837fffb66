package dev.kiln.validator.provider;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.validator.RunLabel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the provider leaves when its run crashes, and that --cleanup removes it. Booting clusters
 * through this provider is ValidateQemuPxeTest's job. Needs root, QEMU and dnsmasq.
 */
@Tag("vm")
class QemuPxeProviderTest {
    private static final ImageRef IMAGE = ImageRef.parse("debian-node:1.0.0-20261127.1");

    @TempDir
    Path tmp;

    @Test
    void cleanupStaleRemovesACrashedRunsNetworkAndProcessesButNoOtherRuns() throws Exception {
        ImageStore store = store();
        RunLabel run = RunLabel.create(tmp);
        QemuPxeProvider provider = new QemuPxeProvider(run, store.dir(IMAGE), store.manifest(IMAGE), line -> {});
        try (provider) {
            NodeProvider.Lan lan = provider.createNetwork(1);
            // Nothing serves the boot file: the machine just keeps asking, as a crashed run's
            // would.
            provider.start(
                    List.of(new NodeProvider.NodeBoot(
                            "m1",
                            "master",
                            "52:54:00:4b:20:01",
                            lan.nodeAddresses().get(0),
                            "t",
                            null)),
                    "http://" + lan.serverAddress() + ":9");
            assertThat(markedProcesses(run)).hasSize(2);

            List<String> log = new ArrayList<>();
            // Every other run counts as live, so runs of other tests or users stay untouched.
            int removed = QemuPxeProvider.cleanupStale(id -> !id.equals(run.id()), log::add);

            assertThat(removed).as(String.join("\n", log)).isEqualTo(4); // QEMU, dnsmasq, veth, namespace
            assertThat(markedProcesses(run)).isEmpty();
            assertThat(run("ip", "netns", "list")).doesNotContain("kiln-" + run.id());
            assertThat(run("ip", "-o", "link", "show")).doesNotContain(run.id());
        } finally {
            run.deleteDir();
        }
    }

    private static ImageStore store() throws Exception {
        TestImages.debianNode();
        return TestImages.store();
    }

    private static List<Long> markedProcesses(RunLabel run) throws Exception {
        List<Long> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(d -> d.getFileName().toString().matches("\\d+"))
                    .toList()) {
                try {
                    if (new String(Files.readAllBytes(p.resolve("cmdline"))).contains(run.processMarker())) {
                        found.add(Long.parseLong(p.getFileName().toString()));
                    }
                } catch (java.io.IOException gone) {
                    // exited meanwhile
                }
            }
        }
        return found;
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        return out;
    }
}
