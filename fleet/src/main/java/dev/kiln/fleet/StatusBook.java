package dev.kiln.fleet;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last status of every node, by MAC: in memory for reads, persisted to status.json in the state
 * directory so a restarted server still knows where each node got to.
 *
 * <p>Writes are coalesced: a report schedules one background write of the whole book unless one is
 * already pending, so a burst of 200 reports costs a few file writes, not 200, and reporters never
 * wait for the disk. Each write replaces the file atomically.
 */
public final class StatusBook implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StatusBook.class);
    static final String FILE = "status.json";

    private final StateDir state;
    private final Map<String, NodeStatus> byMac = new ConcurrentHashMap<>();
    private final ExecutorService writer = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "kiln-status-writer");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean writePending = new AtomicBoolean();
    private final List<BiConsumer<String, NodeStatus>> listeners = new CopyOnWriteArrayList<>();

    /** The file's shape; "schema" lets a later kiln read it or move it aside knowingly. */
    record Saved(int schema, Map<String, NodeStatus> nodes) {}

    private StatusBook(StateDir state) {
        this.state = state;
    }

    public static StatusBook open(StateDir state) throws IOException {
        StatusBook book = new StatusBook(state);
        Path file = state.file(FILE);
        if (Files.exists(file)) {
            try {
                Saved saved = Json.MAPPER.readValue(file.toFile(), new TypeReference<Saved>() {});
                if (saved != null && saved.nodes() != null) {
                    book.byMac.putAll(saved.nodes());
                }
            } catch (IOException e) {
                // Status is history, not configuration: keep the bad file for inspection and go on.
                Path aside = state.file(FILE + ".unreadable-" + System.currentTimeMillis());
                Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
                LOG.warn(
                        "{} is unreadable ({}); moved it to {} and starting with no node status",
                        file,
                        e.getMessage(),
                        aside);
            }
        }
        return book;
    }

    /** Records a report (merged over the previous one) with the current time as receive time. */
    public NodeStatus record(
            String mac,
            String step,
            String detail,
            String phase,
            Map<String, Object> image,
            String kernel,
            String from) {
        NodeStatus report = new NodeStatus(
                step, detail, phase, image, kernel, null, Instant.now().toString(), from);
        NodeStatus merged = byMac.merge(mac, report, (old, now) -> now.over(old));
        changed(mac, merged);
        return merged;
    }

    /** Attaches check results to a node's current status; false if the node never reported. */
    public boolean recordChecks(String mac, List<Map<String, Object>> checks) {
        NodeStatus merged = byMac.computeIfPresent(mac, (m, old) -> old.withChecks(checks));
        if (merged != null) {
            changed(mac, merged);
        }
        return merged != null;
    }

    /**
     * Calls {@code listener} with (MAC, new status) after every report, on the reporting thread.
     */
    public void onChange(BiConsumer<String, NodeStatus> listener) {
        listeners.add(listener);
    }

    private void changed(String mac, NodeStatus status) {
        scheduleWrite();
        for (BiConsumer<String, NodeStatus> l : listeners) {
            try {
                l.accept(mac, status);
            } catch (RuntimeException e) {
                LOG.error("status listener failed on {}: {}", mac, e.toString());
            }
        }
    }

    /** The last status of a node, or null if it never reported. */
    public NodeStatus get(String mac) {
        return byMac.get(mac);
    }

    private void scheduleWrite() {
        if (writePending.compareAndSet(false, true)) {
            try {
                writer.execute(this::writeNow);
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                writePending.set(false); // close() writes the final state
            }
        }
    }

    private void writeNow() {
        // Clear the flag before reading the map: a report arriving during the write schedules
        // another.
        writePending.set(false);
        try {
            state.writeAtomically(FILE, Json.MAPPER.writer().writeValueAsBytes(new Saved(1, new TreeMap<>(byMac))));
        } catch (IOException | RuntimeException e) {
            LOG.error("cannot save node status to {}: {}", state.file(FILE), e.toString());
        }
    }

    /** Writes the final state and stops the writer. */
    @Override
    public void close() {
        writer.shutdown();
        try {
            writer.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        writeNow();
    }
}
