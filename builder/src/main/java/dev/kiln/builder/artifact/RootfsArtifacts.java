package dev.kiln.builder.artifact;

import dev.kiln.core.exec.Exec;
import dev.kiln.core.progress.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The two artifacts made straight from the root directory: rootfs.tar and rootfs.squashfs. */
public final class RootfsArtifacts {
    private RootfsArtifacts() {}

    /**
     * A tarball for node containers: numeric owners, xattrs, stable order. Reproducible: times
     * clamped to the epoch, and the pax headers that --xattrs brings carry no atime or ctime.
     */
    public static void tar(Path rootfs, Path output, long sourceDateEpoch) throws IOException {
        Exec.of(
                        "tar",
                        "--create",
                        "--file=" + output,
                        "--directory=" + rootfs,
                        "--numeric-owner",
                        "--xattrs",
                        "--xattrs-include=*",
                        "--sort=name",
                        "--one-file-system",
                        "--mtime=@" + sourceDateEpoch,
                        "--clamp-mtime",
                        "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
                        ".")
                .run();
    }

    /**
     * The PXE root: zstd-compressed squashfs (fast to make and unpack on a small machine; Debian
     * kernels read it). The kernel and initrd stay outside: the node already has them.
     */
    public static void squashfs(Path rootfs, Path output, long sourceDateEpoch, Progress.Step step) throws IOException {
        Files.deleteIfExists(output);
        // mksquashfs sorts directories itself and its output does not depend on thread timing
        // (4.4+);
        // the only clock it reads is the creation time, which SOURCE_DATE_EPOCH sets (an option for
        // it would clash with a SOURCE_DATE_EPOCH the user exported). File times are already
        // clamped,
        // not flattened with -all-time: .pyc files compare their source's mtime.
        Exec.of(List.of(
                        "mksquashfs",
                        rootfs.toString(),
                        output.toString(),
                        "-noappend",
                        "-comp",
                        "zstd",
                        "-Xcompression-level",
                        "6",
                        "-wildcards",
                        "-e",
                        "boot/vmlinuz*",
                        "boot/initrd.img*",
                        "-percentage"))
                .env("SOURCE_DATE_EPOCH", Long.toString(sourceDateEpoch))
                .onLine(line -> {
                    String t = line.trim();
                    if (t.matches("[0-9]{1,3}")) {
                        step.fraction(Integer.parseInt(t) / 100.0);
                    }
                })
                .run();
    }
}
