package dev.kiln.cli;

import dev.kiln.core.store.ImageStore;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** --store, shared by every command that reads or writes images. */
final class StoreOption {
    @Option(
            names = "--store",
            paramLabel = "DIR",
            description = "Image store directory (default: $KILN_STORE or ~/.local/share/kiln/images).")
    Path store;

    ImageStore open() {
        return new ImageStore(store != null ? store : ImageStore.defaultRoot());
    }

    /** The directory of an existing version; a clear error when the store lacks it. */
    Path versionDir(String ref) throws java.io.IOException {
        ImageStore images = open();
        dev.kiln.core.store.ImageRef r = dev.kiln.core.store.ImageRef.parse(ref);
        images.manifest(r);
        return images.dir(r);
    }
}
