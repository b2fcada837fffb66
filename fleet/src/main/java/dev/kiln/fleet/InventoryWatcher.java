package dev.kiln.fleet;

import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the inventory in force current with its file. Polls the file's mtime, size and inode
 * every second (simpler and more dependable than WatchService, which misses edits made by
 * replacing the file, on network filesystems and through symlinks). A file that fails to load
 * is refused with a logged error, and the previous inventory stays in force.
 *
 * <p>A new inventory goes in force only after its images have been synced from the source (the
 * S3 store mirrors them into its cache), so no node is sent to a version that is half there; a
 * version that could not be synced makes its nodes refused with the reason (see KilnServer).
 */
public final class InventoryWatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(InventoryWatcher.class);

    private final Path file;
    private final ImageSource store;
    private final ScheduledExecutorService poller;
    private volatile Inventory current;
    private volatile Signature loaded;
    private volatile Signature refused;

    /** What identifies a version of the file without reading it. */
    private record Signature(long mtimeNanos, long size, Object fileKey) {
        static final Signature MISSING = new Signature(-1, -1, null);

        static Signature of(Path file) throws IOException {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return new Signature(a.lastModifiedTime().to(TimeUnit.NANOSECONDS), a.size(), a.fileKey());
        }
    }

    /**
     * Loads the inventory now (a bad file fails here: there is nothing to fall back on) and
     * starts polling it.
     */
    public static InventoryWatcher start(Path file, ImageStore store, long pollMillis) throws IOException, InventoryException {
        return start(file, ImageSource.local(store), pollMillis);
    }

    public static InventoryWatcher start(Path file, ImageSource store, long pollMillis) throws IOException, InventoryException {
        InventoryWatcher w = new InventoryWatcher(file, store);
        Signature sig = signatureOrNull(file);
        w.current = w.loadAndSync();
        w.loaded = sig;
        w.poller.scheduleWithFixedDelay(w::poll, pollMillis, pollMillis, TimeUnit.MILLISECONDS);
        return w;
    }

    private InventoryWatcher(Path file, ImageSource store) {
        this.file = file;
        this.store = store;
        this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "kiln-inventory-watch");
            t.setDaemon(true);
            return t;
        });
    }

    /** The inventory in force. */
    public Inventory current() {
        return current;
    }

    public Path file() {
        return file;
    }

    /** Checks the file once; public so tests need not wait for the timer. */
    public synchronized void poll() {
        try {
            Signature sig = signatureOrNull(file);
            if (sig == null) {
                if (!Objects.equals(refused, Signature.MISSING)) {
                    LOG.error("inventory {} is gone; keeping the previous inventory ({} nodes) in force", file, current.members().size());
                    refused = Signature.MISSING;
                }
                return;
            }
            if (sig.equals(loaded) || sig.equals(refused)) {
                return;
            }
            try {
                Inventory next = loadAndSync();
                current = next;
                loaded = sig;
                refused = null;
                LOG.info("inventory {} reloaded: {} nodes in {} clusters", file, next.members().size(), next.clusterCount());
            } catch (InventoryException e) {
                refused = sig;
                LOG.error("inventory {} changed but is invalid; the previous inventory ({} nodes) stays in force"
                        + " until the file is fixed (or touched, to retry):\n{}", file, current.members().size(), e.getMessage());
            }
        } catch (IOException | RuntimeException e) {
            // Never let the poller die: a transient read error must not stop future reloads.
            LOG.error("inventory {}: cannot check for changes: {}", file, e.toString());
        }
    }

    private Inventory loadAndSync() throws IOException, InventoryException {
        Inventory next = InventoryLoader.load(file, store);
        store.sync(next.members().stream().map(Inventory.Member::image).distinct().toList());
        return next;
    }

    private static Signature signatureOrNull(Path file) throws IOException {
        try {
            return Signature.of(file);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    @Override
    public void close() {
        poller.shutdownNow();
    }
}
