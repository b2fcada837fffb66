package dev.kiln.core.util;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/** File helpers the JDK lacks. */
public final class Files2 {
    private Files2() {}

    /**
     * Deletes a tree without following symlinks out of it; a missing path is fine. Anything still
     * mounted inside it (a killed mmdebstrap can leave /proc, /sys or a bind-mounted /dev behind)
     * is unmounted first, so deleting never reaches into the host's files.
     */
    public static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        unmountBelow(path.toAbsolutePath().normalize());
        Files.walkFileTree(path, new SimpleFileVisitor<>() {

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                if (exc instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null && !(exc instanceof NoSuchFileException)) {
                    throw exc;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static java.util.List<Path> mountsBelow(Path root) throws IOException {
        Path mounts = Path.of("/proc/self/mounts");
        if (!Files.isReadable(mounts)) {
            return java.util.List.of();
        }
        java.util.List<Path> below = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(mounts)) {
            String[] f = line.split(" ");
            if (f.length > 1) {
                Path mp = Path.of(f[1].replace("\\040", " "));
                if (mp.startsWith(root)) {
                    below.add(mp);
                }
            }
        }
        // Deepest first, so nested mounts come off before their parents.
        below.sort(java.util.Comparator.comparingInt(Path::getNameCount).reversed());
        return below;
    }

    private static void unmountBelow(Path root) throws IOException {
        for (Path mp : mountsBelow(root)) {
            dev.kiln.core.exec.Exec.of("umount", "--lazy", mp.toString()).runAllowingFailure();
        }
        java.util.List<Path> left = mountsBelow(root);
        if (!left.isEmpty()) {
            throw new IOException("cannot delete " + root + ": still mounted inside it: " + left);
        }
    }
}
