package dev.kiln.release;

import dev.kiln.core.store.ImageRef;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Where the promotion records of an image live, next to its versions: one immutable JSON object per
 * event under {@code NAME/.release/events/SEQ.json}, and one pointer per environment under {@code
 * NAME/.release/channels/ENV.json}. Two implementations: the local store (a file lock and atomic
 * renames) and S3 (conditional requests).
 *
 * <p>The event log is the record and the commit point: {@link #append} writes sequence number N
 * only if nobody has, so of two writers that read the same history, exactly one gets to add to it.
 * The pointer is an index for readers that want one object (scripts, dashboards), replaced only if
 * it is still what the writer read ({@link #putPointer}), so it never moves backwards.
 */
public interface ReleaseStore extends AutoCloseable {
    /** "the store /var/kiln/images" or "s3://bucket/prefix/": for messages. */
    String describe();

    /** Image names that have promotion records. */
    List<String> images() throws IOException;

    /** Every event of the image, as stored, in sequence order. */
    List<Stored> events(String image) throws IOException;

    /** Writes the event at {@code seq} unless that sequence number is taken; false if it is. */
    boolean append(String image, long seq, byte[] json) throws IOException;

    /** The pointer of an environment with its ETag, or null if there is none. */
    Pointer pointer(String image, String env) throws IOException;

    /**
     * Replaces the pointer if its ETag is still {@code ifMatch} (null: only if there is none yet).
     * False if someone changed it in between.
     */
    boolean putPointer(String image, String env, byte[] json, String ifMatch) throws IOException;

    /** The version's manifest.json as stored, or null if the store has no such version. */
    byte[] manifest(ImageRef ref) throws IOException;

    /**
     * The local directory that holds what other verbs recorded about the version (validation.json
     * from kiln validate, published.json from kiln publish): the version itself in a local store,
     * its cache for an S3 store.
     */
    Path recordsDir(ImageRef ref);

    @Override
    default void close() {}

    record Stored(long seq, byte[] json) {}

    record Pointer(byte[] json, String etag) {}

    /** NAME/.release/events/0000000042.json and friends: the same layout in both stores. */
    static String eventName(long seq) {
        return String.format("%010d.json", seq);
    }

    static long seqOf(String fileName) {
        if (!fileName.matches("\\d{10}\\.json")) {
            return -1;
        }
        return Long.parseLong(fileName.substring(0, 10));
    }
}
