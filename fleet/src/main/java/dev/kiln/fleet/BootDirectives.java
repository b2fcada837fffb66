package dev.kiln.fleet;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Metadata a rollout adds to one node's metadata for the boot it is causing, and removes once that
 * boot is confirmed: {@code role: join-master} and a live {@code masterAddr} (a replaced master
 * joins the running cluster, never creates a new one), {@code reimage: ROLLOUT-ID} (a planned
 * reimage, so the node may wipe its local data disk) and {@code kilnChecks} (the checks to run).
 * Kept in directives.json in the state directory, written before the node is powered, so a crash of
 * kiln serve mid-boot does not turn a rejoin into a new cluster.
 */
final class BootDirectives {
    static final String FILE = "directives.json";

    private final StateDir state;
    private final Map<String, Map<String, String>> byMac = new TreeMap<>();

    private BootDirectives(StateDir state) {
        this.state = state;
    }

    static BootDirectives open(StateDir state) throws IOException {
        BootDirectives d = new BootDirectives(state);
        Path file = state.file(FILE);
        if (Files.exists(file)) {
            // Unlike served.json this is not history: a lost directive would re-create a cluster.
            Map<String, Map<String, String>> saved;
            try {
                saved = Json.MAPPER.readValue(file.toFile(), new TypeReference<>() {});
            } catch (IOException e) {
                throw new IOException(file + ": cannot read the rollouts' boot directives: " + e.getMessage(), e);
            }
            if (saved != null) {
                d.byMac.putAll(saved);
            }
        }
        return d;
    }

    synchronized void set(String mac, Map<String, String> metadata) throws IOException {
        byMac.put(mac, new TreeMap<>(metadata));
        save();
    }

    synchronized void clear(String mac) throws IOException {
        if (byMac.remove(mac) != null) {
            save();
        }
    }

    /** The directive of {@code mac}, or an empty map. */
    synchronized Map<String, String> get(String mac) {
        Map<String, String> d = byMac.get(mac);
        return d == null ? Map.of() : Map.copyOf(d);
    }

    private void save() throws IOException {
        state.writeAtomically(FILE, Json.MAPPER.writer().writeValueAsBytes(byMac));
    }
}
