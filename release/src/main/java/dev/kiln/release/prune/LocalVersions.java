package dev.kiln.release.prune;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Files2;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A local store. A version is deleted by renaming ROOT/NAME/VERSION into ROOT/.trash/ (one atomic
 * step: readers see it complete or not at all, never half deleted), then deleting it there. A prune
 * killed in between leaves it in .trash/, which the next prune empties first.
 */
public final class LocalVersions implements VersionStore {
    static final String TRASH = ".trash";
    private final ImageStore store;

    public LocalVersions(ImageStore store) {
        this.store = store;
    }

    @Override
    public String describe() {
        return "the store " + store.root();
    }

    @Override
    public List<Version> versions() throws IOException {
        List<Version> out = new ArrayList<>();
        for (Manifest m : store.list()) {
            ImageRef ref = new ImageRef(m.name(), m.version());
            out.add(new Version(ref, Instant.parse(m.builtAt()), size(store.dir(ref))));
        }
        return out;
    }

    @Override
    public Set<String> names() throws IOException {
        Set<String> names = new TreeSet<>();
        if (Files.isDirectory(store.root())) {
            try (Stream<Path> s = Files.list(store.root())) {
                s.filter(Files::isDirectory)
                        .map(p -> p.getFileName().toString())
                        .filter(n -> !n.startsWith("."))
                        .forEach(names::add);
            }
        }
        return names;
    }

    @Override
    public List<String> finishInterrupted() throws IOException {
        List<String> done = new ArrayList<>();
        Path trash = store.root().resolve(TRASH);
        if (!Files.isDirectory(trash)) {
            return done;
        }
        try (Stream<Path> s = Files.list(trash)) {
            for (Path p : s.toList()) {
                Files2.deleteRecursively(p);
                done.add(p.getFileName()
                        .toString()
                        .replaceFirst("\\.[0-9]+$", "")
                        .replaceFirst("_", ":"));
            }
        }
        return done;
    }

    @Override
    public void delete(ImageRef ref) throws IOException {
        Path dir = store.dir(ref);
        Path trash = Files.createDirectories(store.root().resolve(TRASH));
        Path gone = trash.resolve(ref.name() + "_" + ref.version() + "." + System.nanoTime());
        try {
            Files.move(dir, gone, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException(
                    "cannot move " + dir + " to " + gone + " atomically; the store must be on one filesystem", e);
        }
        CrashPoint.reached(CrashPoint.LOCAL_RENAMED);
        Files2.deleteRecursively(gone);
    }

    @Override
    public Path recordsDir(ImageRef ref) {
        return store.dir(ref);
    }

    static long size(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .mapToLong(p -> p.toFile().length())
                    .sum();
        }
    }
}
