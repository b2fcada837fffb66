package dev.kiln.release;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

/**
 * Promotion records in a local image store: {@code ROOT/NAME/.release/}. Every write takes the
 * image's lock file (other kiln processes) and a lock of this JVM (file locks are per process),
 * checks its condition, and moves a complete file into place with one atomic rename, so a reader
 * never sees half an event and a crash leaves at most a stray temp file.
 */
public final class LocalReleaseStore implements ReleaseStore {
    private static final ConcurrentHashMap<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

    private final ImageStore store;

    public LocalReleaseStore(ImageStore store) {
        this.store = store;
    }

    private Path dir(String image) {
        return store.root().resolve(image).resolve(".release");
    }

    @Override
    public String describe() {
        return "the store " + store.root();
    }

    @Override
    public List<String> images() throws IOException {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(store.root())) {
            return out;
        }
        try (Stream<Path> names = Files.list(store.root())) {
            for (Path p : names.sorted().toList()) {
                if (Files.isDirectory(p.resolve(".release").resolve("events"))) {
                    out.add(p.getFileName().toString());
                }
            }
        }
        return out;
    }

    @Override
    public List<Stored> events(String image) throws IOException {
        Path events = dir(image).resolve("events");
        List<Stored> out = new ArrayList<>();
        if (!Files.isDirectory(events)) {
            return out;
        }
        try (Stream<Path> files = Files.list(events)) {
            for (Path f : files.sorted().toList()) {
                long seq = ReleaseStore.seqOf(f.getFileName().toString());
                if (seq > 0) {
                    out.add(new Stored(seq, Files.readAllBytes(f)));
                }
            }
        }
        return out;
    }

    @Override
    public boolean append(String image, long seq, byte[] json) throws IOException {
        Path target = dir(image).resolve("events").resolve(ReleaseStore.eventName(seq));
        return locked(image, () -> {
            if (Files.exists(target)) {
                return false;
            }
            write(target, json);
            return true;
        });
    }

    @Override
    public Pointer pointer(String image, String env) throws IOException {
        try {
            byte[] json = Files.readAllBytes(pointerFile(image, env));
            return new Pointer(json, Hashing.sha256(json));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    @Override
    public boolean putPointer(String image, String env, byte[] json, String ifMatch) throws IOException {
        Path target = pointerFile(image, env);
        return locked(image, () -> {
            Pointer now = pointer(image, env);
            if (ifMatch == null ? now != null : now == null || !now.etag().equals(ifMatch)) {
                return false;
            }
            write(target, json);
            return true;
        });
    }

    private Path pointerFile(String image, String env) {
        return dir(image).resolve("channels").resolve(env + ".json");
    }

    @Override
    public byte[] manifest(ImageRef ref) throws IOException {
        try {
            return Files.readAllBytes(store.dir(ref).resolve(ImageStore.MANIFEST));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    @Override
    public Path recordsDir(ImageRef ref) {
        return store.dir(ref);
    }

    private interface Locked {
        boolean run() throws IOException;
    }

    private boolean locked(String image, Locked body) throws IOException {
        Path dir = dir(image);
        Files.createDirectories(dir.resolve("events"));
        Files.createDirectories(dir.resolve("channels"));
        Path lockFile = dir.resolve(".lock");
        ReentrantLock jvm = JVM_LOCKS.computeIfAbsent(lockFile, k -> new ReentrantLock());
        jvm.lock();
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock held = ch.lock()) {
            return body.run();
        } finally {
            jvm.unlock();
        }
    }

    /** A complete, synced file moved into place in one rename. */
    private static void write(Path target, byte[] json) throws IOException {
        Path tmp = target.resolveSibling(
                "." + target.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(json);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
