package dev.kiln.fleet;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * kiln serve's own state: the token secret and the last status of every node. Private to the user
 * running the server (0700 directory, 0600 files), because the secret mints node tokens.
 */
public final class StateDir {
    private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");

    private final Path dir;

    private StateDir(Path dir) {
        this.dir = dir;
    }

    /** $XDG_STATE_HOME/kiln/serve, else ~/.local/state/kiln/serve. */
    public static Path defaultDir() {
        String xdg = System.getenv("XDG_STATE_HOME");
        Path state = xdg != null && !xdg.isBlank()
                ? Path.of(xdg)
                : Path.of(System.getProperty("user.home"), ".local", "state");
        return state.resolve("kiln").resolve("serve");
    }

    public static StateDir open(Path dir) throws IOException {
        Path d = dir.toAbsolutePath().normalize();
        if (!Files.isDirectory(d)) {
            Files.createDirectories(d);
            if (posix()) {
                Files.setPosixFilePermissions(d, DIR_MODE);
            }
        }
        return new StateDir(d);
    }

    public Path dir() {
        return dir;
    }

    public Path file(String name) {
        return dir.resolve(name);
    }

    /**
     * Replaces a file in one rename, so a crash leaves either the old or the new content, never a
     * torn file. The temporary file is created 0600, so the content is never readable by others.
     */
    public void writeAtomically(String name, byte[] content) throws IOException {
        Path target = file(name);
        Path tmp = posix()
                ? Files.createTempFile(dir, "." + name + ".", ".tmp", PosixFilePermissions.asFileAttribute(FILE_MODE))
                : Files.createTempFile(dir, "." + name + ".", ".tmp");
        try {
            Files.write(tmp, content);
            try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            // The rename itself is durable only once the directory is on disk too.
            try (var d = java.nio.channels.FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException | UnsupportedOperationException e) {
                // some file systems cannot sync a directory; the file itself was synced
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }
}
