package dev.kiln.builder.artifact;

import static dev.kiln.builder.artifact.GptLayout.MIB;
import static dev.kiln.builder.artifact.GptLayout.ROOT_LABEL;
import static dev.kiln.builder.artifact.SparseFiles.BLOCK;

import dev.kiln.builder.repro.Ext4Times;
import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Why: sizing the root ext4 from the staged tree and populating it with mkfs.ext4 -d is one
 * concern, apart from the disk around it.
 */
final class RootFilesystem {

    private RootFilesystem() {}

    /**
     * Writes {@code rootImg}, an ext4 image of {@code rootBytes} holding {@code rootfsDir}, every
     * time stamp the epoch.
     */
    static void make(
            Path rootImg,
            long rootBytes,
            RootfsUsage usage,
            Path rootfsDir,
            String fsUuid,
            UUID hashSeed,
            long sourceDateEpoch,
            Path workDir,
            Consumer<String> detail)
            throws IOException {
        String epoch = Long.toString(sourceDateEpoch);
        long inodes = Math.max(rootBytes / 16384, usage.inodes() + usage.inodes() / 2 + 16384);
        SparseFiles.createSparse(rootImg, rootBytes);
        List<String> cmd = new ArrayList<>(List.of(
                "mkfs.ext4",
                "-F",
                "-t",
                "ext4",
                "-T",
                "default",
                "-b",
                Integer.toString(BLOCK),
                "-L",
                ROOT_LABEL,
                "-U",
                fsUuid,
                "-E",
                "lazy_itable_init=0,lazy_journal_init=0,nodiscard,hash_seed=" + hashSeed));
        if (inodes > rootBytes / 16384) {
            cmd.addAll(List.of("-N", Long.toString(inodes)));
        }
        cmd.addAll(List.of("-d", rootfsDir.toAbsolutePath().toString(), rootImg.toString()));
        Exec.of(cmd)
                .env("E2FSPROGS_FAKE_TIME", epoch)
                .env("SOURCE_DATE_EPOCH", epoch)
                .onLine(detail)
                .run();
        Ext4Times.set(rootImg, rootfsDir, sourceDateEpoch, workDir, detail);
    }

    /**
     * What the staged rootfs needs on ext4 with 4 KiB blocks (estimated, errs on the large side).
     */
    record RootfsUsage(long dataBlocks, long inodes, long dirEntryBytes) {

        static RootfsUsage measure(Path root) throws IOException {
            long[] blocks = {0};
            long[] inodes = {0};
            long[] dirBytes = {0};
            Set<Object> seen = new HashSet<>();
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                    inodes[0]++;
                    blocks[0]++;
                    entry(dir);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    entry(file);
                    Object key = attrs.fileKey();
                    if (key != null && !seen.add(key)) {
                        return FileVisitResult.CONTINUE; // another name for an inode already counted
                    }
                    inodes[0]++;
                    if (attrs.isRegularFile()) {
                        long b = (attrs.size() + BLOCK - 1) / BLOCK;
                        blocks[0] += b + b / 256; // + extent tree/fragmentation allowance
                    } else if (attrs.isSymbolicLink()) {
                        if (Files.readSymbolicLink(file).toString().getBytes(StandardCharsets.UTF_8).length >= 60) {
                            blocks[0]++;
                        }
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                    throw new IOException(
                            "cannot read " + file + " while sizing the root filesystem: " + exc.getMessage(), exc);
                }

                private void entry(Path p) {
                    Path name = p.getFileName();
                    int len = name == null ? 1 : name.toString().getBytes(StandardCharsets.UTF_8).length;
                    dirBytes[0] += 8 + ((len + 3) & ~3);
                }
            });
            return new RootfsUsage(blocks[0], inodes[0], dirBytes[0]);
        }

        long contentBytes() {
            return (dataBlocks + (dirEntryBytes * 2 + BLOCK - 1) / BLOCK) * BLOCK;
        }

        /**
         * Content + 10% + inode tables + journal and group metadata, then at least 256 MiB (or 20%)
         * of free space, then 5% on top for root-reserved blocks.
         */
        long recommendedFsBytes() {
            long content = contentBytes();
            long needed = content + content / 10 + inodes * 400 + 128 * MIB;
            long withFree = needed + Math.max(256 * MIB, needed / 5);
            return SparseFiles.roundUp(withFree * 100 / 95, MIB);
        }
    }
}
