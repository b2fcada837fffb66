package dev.kiln.core.store;

import java.io.IOException;
import java.util.Collection;

/**
 * Where kiln serve finds image versions. The server always serves files from a local {@link
 * ImageStore} ({@link #store()}), so its Range, ETag and path checks work on plain files whatever
 * the source; a remote source (the S3 store) mirrors the versions the inventory assigns into that
 * local store before the inventory goes in force.
 */
public interface ImageSource extends AutoCloseable {
    /** The local store files are served from. */
    ImageStore store();

    /**
     * Whether the version exists in the source (the inventory's check of every image it names). An
     * IOException means the source could not be asked, not that the version is missing.
     */
    boolean exists(ImageRef ref) throws IOException;

    /** The end of "image X is not in ...", for the inventory's error: where it was looked for. */
    String notFound(ImageRef ref);

    /**
     * Makes these versions servable from {@link #store()}, as far as it can. Never throws: a
     * version that cannot be made available is remembered with its reason ({@link #unavailable}).
     */
    default void sync(Collection<ImageRef> refs) {}

    /** Why the last {@link #sync} could not make this version available, or null. */
    default String unavailable(ImageRef ref) {
        return null;
    }

    @Override
    default void close() {}

    /** The local store itself: nothing to fetch. */
    static ImageSource local(ImageStore store) {
        return new ImageSource() {
            @Override
            public ImageStore store() {
                return store;
            }

            @Override
            public boolean exists(ImageRef ref) {
                return store.exists(ref);
            }

            @Override
            public String notFound(ImageRef ref) {
                return "the store " + store.root() + " (kiln images lists what is there)";
            }
        };
    }
}
