package dev.kiln.builder.artifact;

import dev.kiln.core.exec.Exec;
import dev.kiln.core.progress.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The two artifacts made straight from the root directory: rootfs.tar and rootfs.squashfs. */
public final class RootfsArtifacts {
    private RootfsArtifacts() { }

    /** A tarball for node containers: numeric owners, xattrs, stable order. */
    public static void tar(Path rootfs, Path output) throws IOException {
        Exec.of("tar", "--create", "--file=" + output, "--directory=" + rootfs, "--numeric-owner",
                "--xattrs", "--xattrs-include=*", "--sort=name", "--one-file-system", ".").run();
    }

    /**
     * The PXE root: zstd-compressed squashfs (fast to make and unpack on a small machine; Debian
     * kernels read it). The kernel and initrd stay outside: the node already has them.
     */
    public static void squashfs(Path rootfs, Path output, Progress.Step step) throws IOException {
        Files.deleteIfExists(output);
        Exec.of(List.of("mksquashfs", rootfs.toString(), output.toString(), "-noappend", "-comp", "zstd",
                        "-Xcompression-level", "6", "-wildcards", "-e", "boot/vmlinuz*", "boot/initrd.img*",
                        "-percentage"))
                .onLine(line -> {
                    String t = line.trim();
                    if (t.matches("[0-9]{1,3}")) {
                        step.fraction(Integer.parseInt(t) / 100.0);
                    }
                })
                .run();
    }
}
