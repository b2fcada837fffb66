package dev.kiln.machines.vm;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.builder.TestImages;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.Manifest;
import dev.kiln.machines.qemu.QemuMachine;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** disk.raw is what becomes an AMI: it must boot under legacy BIOS (SeaBIOS) and UEFI (OVMF). */
@Tag("vm")
class DiskBootTest {
    static final Pattern IDENTITY = Pattern.compile("kiln-image: (\\{.*\\})");
    static final Pattern BOOT = Pattern.compile("kiln-boot: firmware=(\\S+) root=(\\S+) fstype=(\\S+) netroot=(\\S+)");

    @TempDir
    Path work;

    @ParameterizedTest
    @EnumSource(QemuMachine.Firmware.class)
    void diskBootsAndReportsItsImageVersionOnTheSerialConsole(QemuMachine.Firmware firmware) throws Exception {
        Manifest m = TestImages.debianNode();
        Path disk = TestImages.dirOf(m).resolve("disk/disk.raw");
        // UEFI from NVMe, as EC2 Nitro instances boot an AMI; BIOS from virtio-blk.
        QemuMachine.Bus bus = firmware == QemuMachine.Firmware.UEFI ? QemuMachine.Bus.NVME : QemuMachine.Bus.VIRTIO;
        try (QemuMachine vm = QemuMachine.start(disk, firmware, bus, work)) {
            Matcher line = vm.await(IDENTITY, Duration.ofMinutes(4));
            JsonNode identity = Json.MAPPER.readTree(line.group(1));
            assertThat(identity.get("name").asText()).isEqualTo("debian-node");
            assertThat(identity.get("version").asText()).isEqualTo(m.version());
            assertThat(identity.get("kernel").asText()).isEqualTo(m.kernel().release());
            Matcher boot = vm.await(BOOT, Duration.ofSeconds(30));
            assertThat(boot.group(1)).isEqualTo(firmware == QemuMachine.Firmware.UEFI ? "uefi" : "bios");
            assertThat(boot.group(2))
                    .as("root device: the disk's own third partition")
                    .isEqualTo(bus == QemuMachine.Bus.NVME ? "/dev/nvme0n1p3" : "/dev/vda3");
            assertThat(boot.group(3)).isEqualTo("ext4");
            assertThat(boot.group(4)).isEqualTo("no");
            // At its built size the root already fills the disk: kiln-grow-root leaves it alone.
            Matcher root = vm.await(DiskGrowTest.UNCHANGED, Duration.ofSeconds(30));
            assertThat(root.group(2)).isEqualTo(boot.group(2));
            assertThat(vm.consoleText()).doesNotContain("kiln-boot: root grown");
        }
    }
}
