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
 *
 * <p>It also keeps the one case where the desired version is not the inventory's: a rollout with
 * {@code --to} re-pointed the node to a version the inventory did not name. That version is then
 * the node's desired one, shown as set by that rollout (not as drift, and not undone by the next
 * rollout without {@code --to}), until the inventory's own version for the node changes: an edit
 * or a promotion is a newer intent, and the node drifts from it as usual.
 */
final class ServedVersions {
    private static final Logger LOG = LoggerFactory.getLogger(ServedVersions.class);
    static final String FILE = "served.json";

    /**
     * @param image NAME:VERSION given
     * @param at when it was first given
     * @param setBy the rollout that re-pointed the node to a version the inventory did not name, or
     *     null
     * @param over the inventory's version then (the override holds while the inventory still says
     *     so), or null
     */
    record Served(String image, String at, String setBy, String over) {}

    /**
     * What a node should run.
     *
     * @param setBy null: the inventory's version; else the rollout that set it (see the class)
     */
    record Desired(String image, String setBy) {}

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
        byMac.put(mac, new Served(image, Instant.now().toString(), null, null));
        try {
            state.writeAtomically(FILE, Json.MAPPER.writer().writeValueAsBytes(byMac));
        } catch (IOException e) {
            LOG.error("cannot save current versions to {}: {}", state.file(FILE), e.toString());
        }
    }

    /**
     * Re-points {@code mac} to {@code image} (a step of rollout {@code rolloutId}; the inventory
     * wants {@code inventoryImage}); durable before it returns.
     */
    synchronized void repoint(String mac, String image, String rolloutId, String inventoryImage) throws IOException {
        boolean override = !image.equals(inventoryImage);
        Served old = byMac.get(mac);
        Served now = new Served(
                image,
                old != null && old.image().equals(image)
                        ? old.at()
                        : Instant.now().toString(),
                override ? rolloutId : null,
                override ? inventoryImage : null);
        if (now.equals(old)) {
            return;
        }
        byMac.put(mac, now);
        state.writeAtomically(FILE, Json.MAPPER.writer().writeValueAsBytes(byMac));
    }

    /** What the inventory member should run. */
    Desired desired(Inventory.Member m) {
        return desired(m.mac(), m.image().toString());
    }

    /** What {@code mac} should run, when the inventory says {@code inventoryImage}. */
    synchronized Desired desired(String mac, String inventoryImage) {
        Served s = byMac.get(mac);
        if (s != null && s.setBy() != null && inventoryImage.equals(s.over())) {
            return new Desired(s.image(), s.setBy());
        }
        return new Desired(inventoryImage, null);
    }

    synchronized Served get(String mac) {
        return byMac.get(mac);
    }
}
