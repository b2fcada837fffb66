package dev.kiln.release.prune;

import dev.kiln.core.store.ImageRef;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Set;

/** Where kiln prune deletes versions: a local store or an S3 one. */
public interface VersionStore {
    /** A complete version: its manifest is there. */
    record Version(ImageRef ref, Instant builtAt, long bytes) {}

    String describe();

    /** Every complete version. */
    List<Version> versions() throws IOException;

    /** Image names the store has a place for (even with no version left). */
    Set<String> names() throws IOException;

    /**
     * Finishes what a killed prune left half deleted (invisible already); one line per version
     * finished.
     */
    List<String> finishInterrupted() throws IOException;

    /** Makes the version disappear for readers in one step, then removes the rest. */
    void delete(ImageRef ref) throws IOException;

    /**
     * The local directory with published.json of the version (the version, or an S3 store's cache
     * of it).
     */
    Path recordsDir(ImageRef ref);
}
