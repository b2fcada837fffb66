package dev.kiln.fleet;

import dev.kiln.core.store.ChannelResolver;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the inventory in force current with its file. Polls the file's mtime, size and inode every
 * second (simpler and more dependable than WatchService, which misses edits made by replacing the
 * file, on network filesystems and through symlinks). A file that fails to load is refused with a
 * logged error, and the previous inventory stays in force.
 *
 * <p>A new inventory goes in force only after its images have been synced from the source (the S3
 * store mirrors them into its cache), so no node is sent to a version that is half there; a version
 * that could not be synced makes its nodes refused with the reason (see KilnServer).
 *
 * <p>Channels (NAME@ENV) and revocations are read again every {@link #CHANNEL_POLLS} polls: a
 * channel that now resolves to another version reloads the inventory (as an edit would), a new
 * revocation is in force at once. Nothing is rebooted: nodes get the new version when they next
 * boot.
 */
public final class InventoryWatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(InventoryWatcher.class);

    /**
     * Channel records are read every this many polls (10 s by default): a promotion is rare, S3
     * reads cost.
     */
    static final int CHANNEL_POLLS = 10;

    private final Path file;
    private final ImageSource store;
    private final ChannelResolver channels;
    private final ScheduledExecutorService poller;
    private int polls;
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
     * Loads the inventory now (a bad file fails here: there is nothing to fall back on) and starts
     * polling it.
     */
    public static InventoryWatcher start(Path file, ImageStore store, long pollMillis)
            throws IOException, InventoryException {
        return start(file, ImageSource.local(store), pollMillis);
    }

    public static InventoryWatcher start(Path file, ImageSource store, long pollMillis)
            throws IOException, InventoryException {
        return start(file, store, ChannelResolver.NONE, pollMillis);
    }

    /**
     * As {@link #start(Path, ImageSource, long)}, resolving channels and revocations through {@code
     * channels}.
     */
    public static InventoryWatcher start(Path file, ImageSource store, ChannelResolver channels, long pollMillis)
            throws IOException, InventoryException {
        InventoryWatcher w = new InventoryWatcher(file, store, channels);
        Signature sig = signatureOrNull(file);
        w.current = w.loadAndSync();
        w.loaded = sig;
        w.poller.scheduleWithFixedDelay(w::poll, pollMillis, pollMillis, TimeUnit.MILLISECONDS);
        return w;
    }

    private InventoryWatcher(Path file, ImageSource store, ChannelResolver channels) {
        this.file = file;
        this.store = store;
        this.channels = channels;
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
        if (++polls % CHANNEL_POLLS == 0) {
            refreshChannels();
        }
        try {
            Signature sig = signatureOrNull(file);
            if (sig == null) {
                if (!Objects.equals(refused, Signature.MISSING)) {
                    LOG.error(
                            "inventory {} is gone; keeping the previous inventory ({} nodes) in force",
                            file,
                            current.members().size());
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
                LOG.info(
                        "inventory {} reloaded: {} nodes in {} clusters",
                        file,
                        next.members().size(),
                        next.clusterCount());
            } catch (InventoryException e) {
                refused = sig;
                LOG.error(
                        "inventory {} changed but is invalid; the previous inventory ({} nodes) stays in force"
                                + " until the file is fixed (or touched, to retry):\n{}",
                        file,
                        current.members().size(),
                        e.getMessage());
            }
        } catch (IOException | RuntimeException e) {
            // Never let the poller die: a transient read error must not stop future reloads.
            LOG.error("inventory {}: cannot check for changes: {}", file, e.toString());
        }
    }

    /**
     * Reads the channel records again: a channel of the inventory that points elsewhere now reloads
     * the inventory; otherwise only the revocations are replaced. Public so tests need not wait.
     */
    public synchronized void refreshChannels() {
        Inventory inv = current;
        ChannelResolver.State state;
        try {
            state = channels.read(
                    inv.members().stream().map(m -> m.image().name()).distinct().toList());
        } catch (IOException | RuntimeException e) {
            LOG.error(
                    "inventory {}: cannot read the promotion records ({}): {}; keeping the last ones",
                    file,
                    channels.describe(),
                    e.toString());
            return;
        }
        boolean moved = false;
        for (Inventory.Member m : inv.members()) {
            if (m.channel() != null) {
                ChannelResolver.Assignment a = state.resolve(dev.kiln.core.store.ChannelRef.parse(m.channel()));
                if (a == null || !a.version().equals(m.image())) {
                    LOG.info(
                            "channel {} now points at {} (was {}); reloading the inventory",
                            m.channel(),
                            a == null ? "no version" : a.version(),
                            m.image());
                    moved = true;
                    break;
                }
            }
        }
        if (!moved) {
            Map<?, ?> before = inv.channels().revoked();
            if (!before.equals(state.revoked())) {
                state.revoked().forEach((ref, why) -> {
                    if (!before.containsKey(ref)) {
                        LOG.warn("image {} was revoked ({}); kiln serve refuses it to nodes from now on", ref, why);
                    }
                });
            }
            current = inv.withChannels(state);
            return;
        }
        try {
            current = loadAndSync();
        } catch (IOException | InventoryException | RuntimeException e) {
            LOG.error(
                    "inventory {}: a channel moved but the inventory cannot be loaded with it; the previous one"
                            + " stays in force:\n{}",
                    file,
                    e.getMessage());
        }
    }

    private Inventory loadAndSync() throws IOException, InventoryException {
        Inventory next = InventoryLoader.load(file, store, channels);
        store.sync(
                next.members().stream().map(Inventory.Member::image).distinct().toList());
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
