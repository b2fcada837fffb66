package dev.kiln.cli;

import dev.kiln.builder.store.ImageStore;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** --store, shared by every command that reads or writes images. */
final class StoreOption {
    @Option(names = "--store", paramLabel = "DIR",
            description = "Image store directory (default: $KILN_STORE or ~/.local/share/kiln/images).")
    Path store;

    ImageStore open() {
        return new ImageStore(store != null ? store : ImageStore.defaultRoot());
    }
}
