package dev.kiln.builder.artifact;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.store.Manifest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The layout of the debian-node image's disk.raw: GPT, GRUB's boot sector pointing at core.img in
 * the BIOS boot partition, the root partition last. DiskGrowTest boots it.
 */
@Tag("vm")
class DiskImageWriterTest {
    @Test
    void diskLayoutIsAsAdvertised() throws Exception {
        Manifest m = TestImages.debianNode();
        Path disk = TestImages.dirOf(m).resolve("disk/disk.raw");
        assertThat(Files.size(disk) % (1L << 30))
                .as("whole GiB, like an EBS volume")
                .isZero();
        String dump = Exec.of("sfdisk", "--dump", disk.toString()).run();
        assertThat(dump)
                .contains("label: gpt")
                .contains("name=\"bios-boot\"")
                .contains("name=\"esp\"")
                .contains("name=\"kiln-root\"")
                .contains("type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709");
        // no temp dir left next to the output
        try (Stream<Path> siblings = Files.list(disk.getParent())) {
            assertThat(siblings.map(p -> p.getFileName().toString())).containsExactly("disk.raw");
        }
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
            ByteBuffer mbr = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(mbr, 0);
            assertThat(mbr.getLong(0x5c)).isEqualTo(2048L);
            assertThat(mbr.get(0x1c2) & 0xff)
                    .as("protective MBR partition type")
                    .isEqualTo(0xee);
            ByteBuffer core = ByteBuffer.allocate(512).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(core, 2048L * 512);
            assertThat(core.getLong(0x1f4)).isEqualTo(2049L);
        }
    }
}
