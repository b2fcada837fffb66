package dev.kiln.core.store;

import dev.kiln.core.json.Json;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * A JSON record that later verbs keep next to a version's manifest (published.json,
 * validation.json): the version stays immutable, these only say what happened to it. Several kiln
 * processes may update one at a time (a publish and a validation, say): updates take a file lock
 * and replace the file atomically, so a reader never sees half a record.
 */
public final class Sidecar {
    private Sidecar() {}

    /** The record in {@code versionDir/file}, or null if there is none yet. */
    public static <T> T read(Path versionDir, String file, Class<T> type) throws IOException {
        Path f = versionDir.resolve(file);
        return Files.isRegularFile(f) ? Json.MAPPER.readValue(f.toFile(), type) : null;
    }

    /**
     * Applies {@code change} to the current record ({@code empty} if none) under a lock, and writes
     * it.
     */
    public static <T> T update(Path versionDir, String file, Class<T> type, Supplier<T> empty, UnaryOperator<T> change)
            throws IOException {
        try (FileChannel lock = FileChannel.open(
                        versionDir.resolve("." + file + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                var held = lock.lock()) {
            T current = read(versionDir, file, type);
            T next = change.apply(current != null ? current : empty.get());
            Path tmp = versionDir.resolve("." + file + ".tmp");
            Json.MAPPER.writeValue(tmp.toFile(), next);
            Files.move(
                    tmp, versionDir.resolve(file), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return next;
        }
    }
}
