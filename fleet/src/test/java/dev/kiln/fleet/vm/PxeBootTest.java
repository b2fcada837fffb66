package dev.kiln.fleet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.builder.TestImages;
import dev.kiln.builder.TestSupport;
import dev.kiln.builder.build.ImageBuilder;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.KilnServer;
import dev.kiln.machines.qemu.QemuMachine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * A diskless QEMU machine PXE-boots through its iPXE ROM from a real kiln serve, fetches the
 * squashfs root, runs the node agent and reports to the server, which is all an operator sees; here
 * when the boot cannot succeed (a metadata key missing, a peer that never comes), the two side by
 * side (each has its own server and QEMU user network). A good node's boot over the same path is
 * S3PxeBootTest's (from an S3 store) and ValidateQemuPxeTest's (a 1+2 cluster).
 */
@Tag("vm")
class PxeBootTest {

    @TempDir
    Path tmp;

    @Execution(ExecutionMode.CONCURRENT)
    @Test
    void nodeWhoseMetadataLacksAValueFailsNamingTheKeyAndStartsNothingThatNeedsIt() throws Exception {
        TestImages.debianNode();
        // The same image plus a placeholder whose metadata key the inventory does not provide.
        Path spec = tmp.resolve("specs/debian-node.yaml");
        Files.createDirectories(spec.getParent());
        Files.writeString(
                spec,
                Files.readString(TestSupport.repo("image-specs/debian-node.yaml"))
                        .replace("version: 1.0.0-20261127.1", "version: 1.0.0-missing-key")
                        .replace(
                                "name: debian-node\n",
                                "name: debian-node\ntemplates: " + TestSupport.repo("templates") + "\n")
                        .replace("outputs: [pxe, disk, rootfs-tar]", "outputs: [pxe]")
                        .replace("placeholders:\n", "placeholders:\n  ntp_server: ntpServer\n")
                        .replace(
                                "files:\n",
                                "files:\n  - path: /etc/systemd/timesyncd.conf.d/kiln.conf\n"
                                        + "    content: |\n      [Time]\n      NTP=@@ntp_server@@\n"));
        Path dir = new ImageBuilder(TestImages.store(), TestImages.cacheDir(), Progress.SILENT).build(spec);
        Manifest broken = TestImages.store()
                .manifest(new ImageRef("debian-node", dir.getFileName().toString()));

        // containerd requires the agent: systemd never starts it (the image prints unit states).
        JsonNode node = bootAndWait(
                broken,
                "failed|ready",
                Pattern.compile("kiln-units: kiln-agent=failed .*containerd\\.service=inactive"));
        assertThat(node.path("step").asText()).isEqualTo("failed");
        assertThat(node.path("detail").asText()).contains("ntpServer").contains("@@ntp_server@@");
    }

    @Execution(ExecutionMode.CONCURRENT)
    @Test
    void firstMasterFailsWhenANodeOfItsClusterNeverComes() throws Exception {
        Manifest m = TestImages.debianNode();
        // w1 is in the inventory but never boots: as in the seed, the first master gives up after
        // waitTimeout and fails, instead of reporting a cluster that never formed as ready.
        String cluster = "waitTimeout: 20\nnodes:\n"
                + PxeLab.M1
                + "  - {mac: \"52:54:00:12:34:09\", name: w1, role: worker, address: 10.0.2.16}\n";
        JsonNode node = bootAndWait(m, "failed|ready", Pattern.compile("kiln-agent.*failed"), cluster);
        assertThat(node.path("step").asText()).isEqualTo("failed");
        assertThat(node.path("detail").asText()).contains("w1");
    }

    private JsonNode bootAndWait(Manifest image, String stepPattern, Pattern consoleLine) throws Exception {
        return bootAndWait(image, stepPattern, consoleLine, "nodes:\n" + PxeLab.M1);
    }

    /**
     * Serves the image to one diskless node (m1, the only one that boots; {@code clusterBody} is
     * the rest of cluster "lab" in the inventory), boots it, and returns its /nodes row once its
     * step matches and its console has shown {@code consoleLine}.
     */
    private JsonNode bootAndWait(Manifest image, String stepPattern, Pattern consoleLine, String clusterBody)
            throws Exception {
        int port = PxeLab.freePort();
        Path inventory = PxeLab.inventory(tmp, image.ref(), clusterBody);
        String publicUrl = PxeLab.publicUrl(port);
        try (KilnServer server = KilnServer.start(new KilnServer.Options(
                        inventory, TestImages.store(), "127.0.0.1", port, publicUrl, tmp.resolve("state"), 500));
                QemuMachine vm = QemuMachine.startNetboot(
                        PxeLab.MAC,
                        publicUrl + "/boot.ipxe",
                        TestImages.dirOf(image).resolve("pxe/vmlinuz"),
                        tmp.resolve("vm"),
                        1536)) {
            JsonNode row = PxeLab.awaitStep(server, vm, Pattern.compile(stepPattern), Duration.ofMinutes(6));
            vm.await(consoleLine, Duration.ofSeconds(60));
            return row;
        }
    }
}
