package dev.kiln.builder.artifact;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.progress.Progress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A disk that cannot be built fails naming the step, and leaves nothing next to the output. */
class DiskImageWriterFailureTest {
    @TempDir
    Path work;

    @Test
    void failedBuildNamesTheStepAndLeavesNothingBehind() throws IOException {
        Path dir = work.resolve("failing");
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        Files.createDirectories(rootfs.resolve("etc"));
        Files.writeString(rootfs.resolve("etc/hostname"), "x\n");
        Path kernel = dir.resolve("huge-vmlinuz");
        try (FileChannel ch = FileChannel.open(kernel, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[1]), 300L << 20); // sparse, larger than the ESP allows
        }
        Path initrd = Files.writeString(dir.resolve("initrd.img"), "not really");
        Path out = dir.resolve("out");
        boolean[] failed = {false};
        Progress.Step step = new Progress.Step() {
            @Override
            public void detail(String text) {}

            @Override
            public void fraction(double done) {}

            @Override
            public void failed() {
                failed[0] = true;
            }

            @Override
            public void close() {}
        };
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> DiskImageWriter.write(
                        new DiskImageWriter.Request(
                                rootfs, kernel, initrd, "", "t", out.resolve("disk.raw"), "t:1", 1_700_000_000L),
                        step))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("build EFI system partition")
                .hasMessageContaining("do not fit");
        assertThat(failed[0]).isTrue();
        try (Stream<Path> left = Files.list(out)) {
            assertThat(left).isEmpty();
        }
    }
}
