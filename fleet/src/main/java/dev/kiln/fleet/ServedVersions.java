package dev.kiln.fleet;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's current version: the one kiln serve hands it in boot scripts. A node's first boot
 * records the desired version (the inventory's); after that only a rollout re-points it ({@link
 * KilnServer#repoint}). So an inventory edit makes nodes drifted (desired differs from current), and
 * a drifted node that reboots on its own comes back on its current version: versions change only
 * through a rollout, which drains and confirms. Kept in served.json in the state directory, written
 * atomically, so a restart or crash does not forget it.
 */
final class ServedVersions {
    private static final Logger LOG = LoggerFactory.getLogger(ServedVersions.class);
    static final String FILE = "served.json";

    /**
     * @param image NAME:VERSION given; @param at when it was first given
     */
    record Served(String image, String at) {}

    private final StateDir state;
    private final Map<String, Served> byMac = new TreeMap<>();

    private ServedVersions(StateDir state) {
        this.state = state;
    }

    static ServedVersions open(StateDir state) throws IOException {
        ServedVersions served = new ServedVersions(state);
        Path file = state.file(FILE);
        if (Files.exists(file)) {
            try {
                Map<String, Served> saved =
                        Json.MAPPER.readValue(file.toFile(), new TypeReference<Map<String, Served>>() {});
                if (saved != null) {
                    served.byMac.putAll(saved);
                }
            } catch (IOException e) {
                // History, not configuration: the next boot script of each node records it again.
                LOG.warn(
                        "{} is unreadable ({}); current versions are unknown until nodes boot again",
                        file,
                        e.getMessage());
            }
        }
        return served;
    }

    /** Records that {@code mac} was given {@code image}; writes the file when that changed. */
    synchronized void record(String mac, String image) {
        Served old = byMac.get(mac);
        if (old != null && old.image().equals(image)) {
            return;
        }
        byMac.put(mac, new Served(image, Instant.now().toString()));
        try {
            state.writeAtomically(FILE, Json.MAPPER.writer().writeValueAsBytes(byMac));
        } catch (IOException e) {
            LOG.error("cannot save current versions to {}: {}", state.file(FILE), e.toString());
        }
    }

    /** Re-points {@code mac} to {@code image} (a rollout's step); durable before it returns. */
    synchronized void repoint(String mac, String image) throws IOException {
        Served old = byMac.get(mac);
        if (old != null && old.image().equals(image)) {
            return;
        }
        byMac.put(mac, new Served(image, Instant.now().toString()));
        state.writeAtomically(FILE, Json.MAPPER.writer().writeValueAsBytes(byMac));
    }

    synchronized Served get(String mac) {
        return byMac.get(mac);
    }
}
