package dev.kiln.aws.vm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.aws.Moto;
import dev.kiln.aws.S3ImageSource;
import dev.kiln.aws.S3Location;
import dev.kiln.builder.TestImages;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.vm.PxeLab;
import dev.kiln.machines.qemu.QemuMachine;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real debian-node image, published to S3 (moto), boots a diskless QEMU node from kiln serve
 * --store s3://: the server mirrors it into its cache and the node reports ready.
 */
@Tag("aws")
@Tag("vm")
class S3PxeBootTest {

    @TempDir
    Path tmp;

    @Test
    void disklessNodeBootsAnImageServedFromS3() throws Exception {
        Manifest m = TestImages.debianNode();
        ImageRef ref = new ImageRef(m.name(), m.version());
        S3Location store = S3Location.parse("s3://kiln-images/releases");
        Moto moto = Moto.shared();
        // Only pxe/: moto would otherwise hold the 2 GiB disk.raw and the rootfs.tar in memory for
        // nothing.
        moto.publishedS3Store(
                TestImages.partialCopy(m, a -> a.startsWith("pxe/"), tmp.resolve("pxe-store")), ref, store);
        int port = PxeLab.freePort();
        Path inventory = PxeLab.inventory(tmp, m.ref(), "nodes:\n" + PxeLab.M1);
        String publicUrl = PxeLab.publicUrl(port);
        try (S3ImageSource source = S3ImageSource.open(store, moto.settings("us-east-1"), tmp.resolve("cache"));
                KilnServer server = KilnServer.start(new KilnServer.Options(
                        inventory, source, "127.0.0.1", port, publicUrl, tmp.resolve("state"), 500));
                QemuMachine vm = QemuMachine.startNetboot(
                        PxeLab.MAC,
                        publicUrl + "/boot.ipxe",
                        TestImages.dirOf(m).resolve("pxe/vmlinuz"),
                        tmp.resolve("vm"),
                        1536)) {
            assertThat(source.store().exists(ref)).isTrue();
            JsonNode row = PxeLab.awaitStep(server, vm, Pattern.compile("ready|failed"), Duration.ofMinutes(6));
            assertThat(row.path("step").asText())
                    .as("last step, detail: "
                            + row.path("detail").asText()
                            + "\nconsole:\n"
                            + PxeLab.tail(vm.consoleText()))
                    .isEqualTo("ready");
            assertThat(row.path("reportedImage").asText()).isEqualTo(m.ref());
            assertThat(row.path("kernel").asText()).isEqualTo(m.kernel().release());
        }
    }
}
