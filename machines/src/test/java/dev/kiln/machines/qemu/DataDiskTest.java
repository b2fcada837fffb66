package dev.kiln.machines.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.exec.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Data disks are sparse raw files that keep their writes, each with a serial the node can match. */
class DataDiskTest {
    @TempDir
    Path dir;

    @Test
    void attachCreatesSparseFilesOnceWithSerialsAndNoSnapshot() throws Exception {
        List<DataDisk> disks = List.of(DataDisk.blank(8L << 30), DataDisk.formatted(64L << 20, "ext4", "backup"));

        List<String> args = DataDisk.attach(disks, dir, "m1", QemuMachine.Bus.VIRTIO);

        assertThat(args)
                .containsExactly(
                        "-drive",
                        "if=none,id=data0,format=raw,snapshot=off,file=" + dir.resolve("data0.raw"),
                        "-device",
                        "virtio-blk-pci,drive=data0,serial=kiln-m1-d0",
                        "-drive",
                        "if=none,id=data1,format=raw,snapshot=off,file=" + dir.resolve("data1.raw"),
                        "-device",
                        "virtio-blk-pci,drive=data1,serial=kiln-m1-d1");
        assertThat(Files.size(dir.resolve("data0.raw"))).isEqualTo(8L << 30);
        assertThat(Exec.of("stat", "-c", "%b", dir.resolve("data0.raw").toString())
                        .run()
                        .strip())
                .as("sparse: nothing allocated")
                .isEqualTo("0");
        assertThat(Exec.of(
                                "blkid",
                                "-p",
                                "-o",
                                "value",
                                "-s",
                                "LABEL",
                                dir.resolve("data1.raw").toString())
                        .run()
                        .strip())
                .isEqualTo("backup");

        // Powered on again, a machine finds what it wrote.
        try (java.io.RandomAccessFile f =
                new java.io.RandomAccessFile(dir.resolve("data0.raw").toFile(), "rw")) {
            f.write(42);
        }
        DataDisk.attach(disks, dir, "m1", QemuMachine.Bus.NVME);
        try (java.io.RandomAccessFile f =
                new java.io.RandomAccessFile(dir.resolve("data0.raw").toFile(), "r")) {
            assertThat(f.read()).isEqualTo(42);
            assertThat(f.length()).isEqualTo(8L << 30);
        }
    }

    @Test
    void nvmeAsOnNitroAndLongNodeNamesKeepTheSerialShort() throws Exception {
        List<String> args =
                DataDisk.attach(List.of(DataDisk.blank(1L << 30)), dir, "a-very-long-node-name", QemuMachine.Bus.NVME);
        assertThat(args.get(3)).startsWith("nvme,drive=data0,serial=");
        assertThat(DataDisk.serial("a-very-long-node-name", 0)).hasSizeLessThanOrEqualTo(20);
        assertThatThrownBy(() -> DataDisk.formatted(1L << 30, "btrfs", null)).hasMessageContaining("ext4, xfs or vfat");
    }
}
