package dev.kiln.machines.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.json.Json;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --disk-size values, and the copy-on-write overlay a bigger boot disk is (qemu-img, no VM). */
class DiskOverlayTest {
    @TempDir
    Path dir;

    @Test
    void sizesTakeBinaryUnitsAsQemuImgAndEbsCountThem() {
        assertThat(DiskOverlay.parseSize("8G", "--disk-size")).isEqualTo(8L << 30);
        assertThat(DiskOverlay.parseSize("8GiB", "--disk-size")).isEqualTo(8L << 30);
        assertThat(DiskOverlay.parseSize("8gb", "--disk-size")).isEqualTo(8L << 30);
        assertThat(DiskOverlay.parseSize(" 512M ", "--disk-size")).isEqualTo(512L << 20);
        assertThat(DiskOverlay.parseSize("1.5T", "--disk-size")).isEqualTo(3L << 39);
        assertThat(DiskOverlay.parseSize("4096", "--disk-size")).isEqualTo(4096);
        assertThat(DiskOverlay.parseSize("64K", "--disk-size")).isEqualTo(65536);
    }

    @Test
    void badSizesNameTheOptionAndWhatWasExpected() {
        assertThatThrownBy(() -> DiskOverlay.parseSize("eight", "--disk-size"))
                .hasMessage("--disk-size: expected a size such as 8G, 512M or 1.5T, got 'eight'");
        assertThatThrownBy(() -> DiskOverlay.parseSize("8X", "--disk-size")).hasMessageContaining("got '8X'");
        assertThatThrownBy(() -> DiskOverlay.parseSize("-1G", "--disk-size")).hasMessageContaining("got '-1G'");
        assertThatThrownBy(() -> DiskOverlay.parseSize("0G", "--disk-size"))
                .hasMessageContaining("must be more than 0");
        assertThatThrownBy(() -> DiskOverlay.parseSize("1.5", "--disk-size"))
                .hasMessageContaining("cannot have a fraction");
        assertThatThrownBy(() -> DiskOverlay.parseSize("99999999999T", "--disk-size"))
                .hasMessageContaining("too big");
        assertThatThrownBy(() -> DiskOverlay.parseSize("", "--disk-size")).hasMessageContaining("got ''");
    }

    @Test
    void sizesPrintTheWayTheyAreGiven() {
        assertThat(DiskOverlay.format(8L << 30)).isEqualTo("8G");
        assertThat(DiskOverlay.format(3L << 29)).isEqualTo("1.5G");
        assertThat(DiskOverlay.format(512L << 20)).isEqualTo("512M");
        assertThat(DiskOverlay.format(100)).isEqualTo("100B");
    }

    @Test
    void anOverlayIsBiggerThanItsImageWhichItOnlyReads() throws Exception {
        Path image = dir.resolve("store/disk.raw");
        Files.createDirectories(image.getParent());
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(1 << 20);
        }
        Path overlay = DiskOverlay.create(image, 4L << 20, dir.resolve("work"));

        assertThat(overlay.getFileName().toString()).isEqualTo("disk" + DiskOverlay.SUFFIX);
        assertThat(DiskOverlay.isOverlay(overlay)).isTrue();
        assertThat(DiskOverlay.imageOf(overlay)).isEqualTo(image.toAbsolutePath());
        assertThat(DiskOverlay.imageOf(image)).isEqualTo(image);
        JsonNode info = Json.MAPPER.readTree(
                Exec.of("qemu-img", "info", "--output=json", overlay.toString()).run());
        assertThat(info.get("format").asText()).isEqualTo("qcow2");
        assertThat(info.get("virtual-size").asLong()).isEqualTo(4L << 20);
        assertThat(info.get("backing-filename-format").asText()).isEqualTo("raw");
        // Booting it attaches the overlay as qcow2 and keeps its writes (no -snapshot).
        assertThat(QemuMachine.diskArgs(overlay, QemuMachine.Bus.NVME))
                .contains("if=none,id=disk0,format=qcow2,file=" + overlay)
                .doesNotContain("-snapshot");
        assertThat(QemuMachine.diskArgs(image, QemuMachine.Bus.NVME)).contains("-snapshot");

        assertThatThrownBy(() -> DiskOverlay.create(image, 512 << 10, dir.resolve("small")))
                .hasMessageContaining("--disk-size 512K is smaller than the image disk.raw (1M, 1048576 bytes)");
        assertThat(dir.resolve("small")).doesNotExist();
    }
}
