package dev.kiln.core.store;

import dev.kiln.core.json.Json;
import dev.kiln.core.util.Files2;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The local image store: {@code ROOT/NAME/VERSION/} holding manifest.json and the artifacts.
 *
 * <p>A version is immutable once written. Builds happen in {@code ROOT/.staging/}, invisible to
 * readers, and appear with one atomic rename, so a failed or killed build (kill -9 included) never
 * leaves a visible version; leftovers of dead builds are swept by the next build.
 */
public final class ImageStore {
    public static final String MANIFEST = "manifest.json";

    private final Path root;

    public ImageStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    /** $KILN_STORE, else $XDG_DATA_HOME/kiln/images, else ~/.local/share/kiln/images. */
    public static Path defaultRoot() {
        String env = System.getenv("KILN_STORE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String xdg = System.getenv("XDG_DATA_HOME");
        Path data = xdg != null && !xdg.isBlank()
                ? Path.of(xdg)
                : Path.of(System.getProperty("user.home"), ".local", "share");
        return data.resolve("kiln").resolve("images");
    }

    public Path root() {
        return root;
    }

    public Path dir(ImageRef ref) {
        return root.resolve(ref.name()).resolve(ref.version());
    }

    public boolean exists(ImageRef ref) {
        return Files.isRegularFile(dir(ref).resolve(MANIFEST));
    }

    /** Every complete version, by name then build time. */
    public List<Manifest> list() throws IOException {
        List<Manifest> all = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return all;
        }
        try (Stream<Path> names = Files.list(root)) {
            for (Path name : names.filter(p -> !p.getFileName().toString().startsWith("."))
                    .toList()) {
                try (Stream<Path> versions = Files.list(name)) {
                    for (Path v : versions.toList()) {
                        Path m = v.resolve(MANIFEST);
                        if (Files.isRegularFile(m)) {
                            all.add(Json.MAPPER.readValue(m.toFile(), Manifest.class));
                        }
                    }
                }
            }
        }
        all.sort(Comparator.comparing(Manifest::name).thenComparing(Manifest::builtAt));
        return all;
    }

    public Manifest manifest(ImageRef ref) throws IOException {
        Path m = dir(ref).resolve(MANIFEST);
        try {
            return Json.MAPPER.readValue(m.toFile(), Manifest.class);
        } catch (java.io.FileNotFoundException | NoSuchFileException e) {
            throw new NoSuchFileException(
                    "no image " + ref + " in store " + root + " (kiln images lists what is there)");
        }
    }

    /**
     * Starts writing a new version. Refuses a version that exists or is being built right now.
     * Close the staging to drop it; {@link Staging#commit} publishes it.
     */
    public Staging stage(ImageRef ref) throws IOException {
        if (exists(ref)) {
            throw new VersionExistsException(ref, dir(ref));
        }
        Path staging = root.resolve(".staging");
        Files.createDirectories(staging);
        sweepDeadStagings(staging);
        String base = ref.name() + "_" + ref.version();
        FileChannel lockChannel =
                FileChannel.open(staging.resolve(base + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = lockChannel.tryLock();
        } catch (java.nio.channels.OverlappingFileLockException e) {
            lock = null; // held by this very JVM
        }
        if (lock == null) {
            lockChannel.close();
            throw new IOException(ref
                    + " is being built by another kiln process right now ("
                    + staging.resolve(base + ".lock")
                    + ")");
        }
        Path dir = staging.resolve(base + "." + ProcessHandle.current().pid());
        Files2.deleteRecursively(dir);
        Files.createDirectories(dir);
        return new Staging(ref, dir, lockChannel);
    }

    /** Removes staging directories left by builds whose process is gone (crash, kill -9). */
    private static void sweepDeadStagings(Path staging) throws IOException {
        try (Stream<Path> entries = Files.list(staging)) {
            for (Path p : entries.toList()) {
                String n = p.getFileName().toString();
                int dot = n.lastIndexOf('.');
                if (!Files.isDirectory(p) || dot < 0) {
                    continue;
                }
                try {
                    long pid = Long.parseLong(n.substring(dot + 1));
                    if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                        continue;
                    }
                } catch (NumberFormatException e) {
                    continue;
                }
                Files2.deleteRecursively(p);
            }
        }
    }

    /** A version being written. */
    public final class Staging implements AutoCloseable {
        private final ImageRef ref;
        private final Path dir;
        private final FileChannel lock;
        private boolean committed;

        private Staging(ImageRef ref, Path dir, FileChannel lock) {
            this.ref = ref;
            this.dir = dir;
            this.lock = lock;
        }

        public Path dir() {
            return dir;
        }

        /** Writes the manifest last and moves the whole version into place in one rename. */
        public Path commit(Manifest manifest) throws IOException {
            Json.MAPPER.writeValue(dir.resolve(MANIFEST).toFile(), manifest);
            return publish();
        }

        /**
         * Like {@link #commit(Manifest)} with the manifest.json of a version made elsewhere (kiln
         * serve's S3 mirror), kept byte for byte so its sha256 stays the published one.
         */
        public Path commit(byte[] manifestJson) throws IOException {
            Files.write(dir.resolve(MANIFEST), manifestJson);
            return publish();
        }

        private Path publish() throws IOException {
            Path target = ImageStore.this.dir(ref);
            Files.createDirectories(target.getParent());
            try {
                Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
                throw new VersionExistsException(ref, target);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException(
                        "cannot move " + dir + " to " + target + " atomically; the store must be on one filesystem", e);
            }
            committed = true;
            return target;
        }

        @Override
        public void close() throws IOException {
            try {
                if (!committed) {
                    Files2.deleteRecursively(dir);
                }
            } finally {
                lock.close();
            }
        }
    }

    /** Versions are immutable: building one that exists is refused. */
    public static final class VersionExistsException extends IOException {
        public VersionExistsException(ImageRef ref, Path dir) {
            super(ref
                    + " already exists in the store ("
                    + dir
                    + "); versions are immutable, bump 'version' in the spec");
        }
    }
}
