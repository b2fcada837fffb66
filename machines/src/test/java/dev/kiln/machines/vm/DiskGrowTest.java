package dev.kiln.machines.vm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.builder.TestImages;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import dev.kiln.machines.qemu.DiskOverlay;
import dev.kiln.machines.qemu.QemuMachine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * disk.raw is what becomes an AMI: it boots under legacy BIOS (SeaBIOS, from virtio-blk) and UEFI
 * (OVMF, from NVMe as EC2 Nitro instances boot) and reports its image on the serial console. Here
 * it boots from a disk four times its size (an AMI launched with a bigger volume, the image written
 * to a real disk): the first boot grows the root to fill the disk, the second (now at the disk's
 * size, as an image at its built size is) changes nothing, and the filesystem is clean after each.
 * Read from the disk itself after a clean shutdown, not only from what the node says. The two
 * firmwares boot side by side: their machines share nothing.
 */
@Tag("vm")
class DiskGrowTest {
    static final Pattern IDENTITY = Pattern.compile("kiln-image: (\\{.*\\})");
    static final Pattern BOOT = Pattern.compile("kiln-boot: firmware=(\\S+) root=(\\S+) fstype=(\\S+) netroot=(\\S+)");
    static final Pattern GROWN =
            Pattern.compile("kiln-boot: root grown (\\S+) -> (\\S+) \\((\\S+) fills the (\\S+) disk (\\S+)\\)");
    static final Pattern UNCHANGED =
            Pattern.compile("kiln-boot: root unchanged (\\S+) \\((\\S+) fills the (\\S+) disk (\\S+)\\)");
    static final Pattern AGENT_BOOTED = Pattern.compile("kiln-agent: booted .*; root (grown|unchanged) .*");
    private static final ObjectMapper JSON = Json.MAPPER;

    @TempDir
    Path work;

    @Execution(ExecutionMode.CONCURRENT)
    @ParameterizedTest
    @EnumSource(QemuMachine.Firmware.class)
    void bootsReportsItsImageAndItsRootFillsAnEnlargedDiskOnFirstBootAndStaysSoOnTheNext(QemuMachine.Firmware firmware)
            throws Exception {
        Manifest m = TestImages.debianNode();
        Path image = TestImages.dirOf(m).resolve("disk/disk.raw");
        long built = Files.size(image);
        long size = 4 * built;
        Layout original = Layout.of(image, work.resolve("original"));
        Path overlay = DiskOverlay.create(image, size, work.resolve("disk"));
        QemuMachine.Bus bus = firmware == QemuMachine.Firmware.UEFI ? QemuMachine.Bus.NVME : QemuMachine.Bus.VIRTIO;
        String part = bus == QemuMachine.Bus.NVME ? "/dev/nvme0n1p3" : "/dev/vda3";

        String said;
        try (QemuMachine vm = QemuMachine.start(overlay, firmware, bus, work.resolve("boot1"))) {
            JsonNode identity =
                    JSON.readTree(vm.await(IDENTITY, Duration.ofMinutes(4)).group(1));
            assertThat(identity.get("name").asText()).isEqualTo("debian-node");
            assertThat(identity.get("version").asText()).isEqualTo(m.version());
            assertThat(identity.get("kernel").asText()).isEqualTo(m.kernel().release());
            Matcher boot = vm.await(BOOT, Duration.ofSeconds(30));
            assertThat(boot.group(1)).isEqualTo(firmware == QemuMachine.Firmware.UEFI ? "uefi" : "bios");
            assertThat(boot.group(2))
                    .as("root device: the disk's own third partition")
                    .isEqualTo(part);
            assertThat(boot.group(3)).isEqualTo("ext4");
            assertThat(boot.group(4)).isEqualTo("no");
            Matcher grown = vm.await(GROWN, Duration.ofMinutes(4));
            said = grown.group();
            assertThat(grown.group(1)).as(said).isEqualTo(gib(original.fsBytes()));
            assertThat(grown.group(3)).isEqualTo(part);
            assertThat(grown.group(4)).isEqualTo(gib(size));
            // The phone-home carries it too: the agent's "booted" report.
            assertThat(vm.await(AGENT_BOOTED, Duration.ofMinutes(1)).group(1)).isEqualTo("grown");
            vm.shutdown(Duration.ofMinutes(2));
        }
        Layout first = Layout.of(overlay, work.resolve("after-boot1"));
        assertThat(first.fsBytes()).as("root filesystem after %s", said).isGreaterThanOrEqualTo(size * 9 / 10);
        assertThat(first.partitionBytes() - first.fsBytes())
                .as("the filesystem fills its partition")
                .isLessThan(1 << 20);
        assertThat(first.lastUsableLba())
                .as("backup GPT header at the end of the disk")
                .isEqualTo(size / 512 - 34);
        assertThat(first.others())
                .as("the BIOS boot partition and the ESP stay as built")
                .isEqualTo(original.others());
        assertThat(first.rootEntry().get("uuid")).isEqualTo(original.rootEntry().get("uuid"));

        try (QemuMachine vm = QemuMachine.start(overlay, firmware, bus, work.resolve("boot2"))) {
            Matcher unchanged = vm.await(UNCHANGED, Duration.ofMinutes(4));
            assertThat(unchanged.group(1)).isEqualTo(gib(first.fsBytes()));
            assertThat(unchanged.group(2)).isEqualTo(part);
            assertThat(vm.consoleText()).doesNotContain("kiln-boot: root grown");
            assertThat(vm.await(AGENT_BOOTED, Duration.ofMinutes(1)).group(1)).isEqualTo("unchanged");
            vm.shutdown(Duration.ofMinutes(2));
        }
        Layout second = Layout.of(overlay, work.resolve("after-boot2"));
        assertThat(second).as("a second boot changes nothing").isEqualTo(first);

        assertThat(Hashing.sha256(image))
                .as("the stored image never changes")
                .isEqualTo(m.artifacts().get("disk/disk.raw").sha256());
    }

    /** 1.7G, as the node prints sizes. */
    static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1fG", bytes / 1073741824.0);
    }

    /**
     * What a disk holds, read from a raw copy of it: the partition table (sfdisk, which must find
     * nothing to warn about) and the root filesystem's size, after e2fsck -fn found it clean.
     */
    record Layout(long lastUsableLba, JsonNode others, JsonNode rootEntry, long partitionBytes, long fsBytes) {
        static Layout of(Path disk, Path dir) throws IOException {
            Files.createDirectories(dir);
            Path raw = dir.resolve("disk.raw");
            try {
                Exec.of("qemu-img", "convert", "-O", "raw", disk.toString(), raw.toString())
                        .run();
                String verify = Exec.of("sfdisk", "--verify", raw.toString()).run();
                assertThat(verify)
                        .as("sfdisk --verify")
                        .contains("No errors detected")
                        .doesNotContain("backup GPT");
                JsonNode table = JSON.readTree(
                                Exec.of("sfdisk", "-J", raw.toString()).run())
                        .get("partitiontable");
                JsonNode parts = table.get("partitions");
                assertThat(parts).hasSize(3);
                ObjectNode root = ((ObjectNode) parts.get(2).deepCopy());
                assertThat(root.get("name").asText()).isEqualTo("kiln-root");
                root.remove("node");
                var others = JSON.createArrayNode();
                for (int i = 0; i < 2; i++) {
                    ObjectNode p = (ObjectNode) parts.get(i).deepCopy();
                    p.remove("node");
                    others.add(p);
                }
                long sector = table.path("sectorsize").asLong(512);
                String fs = raw + "?offset=" + root.get("start").asLong() * sector;
                Exec.Result fsck = Exec.of("e2fsck", "-fn", fs).runAllowingFailure();
                assertThat(fsck.exitCode())
                        .as("e2fsck -fn on the root filesystem:\n" + fsck.output())
                        .isZero();
                String header = Exec.of("dumpe2fs", "-h", fs).run();
                long blocks = Long.parseLong(header.replaceFirst("(?s).*\nBlock count:\\s+(\\d+).*", "$1"));
                long blockSize = Long.parseLong(header.replaceFirst("(?s).*\nBlock size:\\s+(\\d+).*", "$1"));
                return new Layout(
                        table.get("lastlba").asLong(),
                        others,
                        root,
                        root.get("size").asLong() * sector,
                        blocks * blockSize);
            } finally {
                Files.deleteIfExists(raw);
            }
        }
    }
}
