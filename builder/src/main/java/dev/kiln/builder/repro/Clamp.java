package dev.kiln.builder.repro;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;

/**
 * Clamps modification times in a tree to the build's epoch, like tar --clamp-mtime: what the build
 * wrote (rendered files, downloads, the initrd, units) gets the epoch, what came from packages
 * keeps its older time. Setting every file to the epoch would make Python's .pyc files look stale
 * (they record their source's mtime), so only newer times are touched. Symlinks are set themselves,
 * never followed. Access times are set with them; ext4 gets its own pass for those (see {@link
 * Ext4Times}) since reading a file moves its atime again.
 */
public final class Clamp {
    private Clamp() {}

    /** Returns how many entries were newer than the epoch. */
    public static long mtimes(Path root, long epoch) throws IOException {
        FileTime limit = FileTime.fromMillis(epoch * 1000);
        long[] changed = {0};
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes a) throws IOException {
                clamp(dir, a);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes a) throws IOException {
                clamp(file, a);
                return FileVisitResult.CONTINUE;
            }

            private void clamp(Path p, BasicFileAttributes a) throws IOException {
                if (a.lastModifiedTime().compareTo(limit) > 0) {
                    set(p, limit);
                    changed[0]++;
                }
            }
        });
        return changed[0];
    }

    /** Sets one file's mtime and atime (not following a symlink). */
    public static void set(Path p, long epoch) throws IOException {
        set(p, FileTime.fromMillis(epoch * 1000));
    }

    private static void set(Path p, FileTime t) throws IOException {
        Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(t, t, null);
    }
}
