package dev.kiln.fleet;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

/**
 * How long each node's last boot took, from the times kiln serve received its steps: "boot" is from
 * the boot script (iPXE) to the agent's "booted" (firmware, kernel, root download, init), "to
 * ready" from "booted" to "ready" (metadata, placeholders, the role's bootstrap). Server receive
 * times only: node clocks are not trusted. Kept in memory; a restarted server measures from the
 * next boot on.
 */
final class BootTimes {
    /** One boot of a node; any of the times may be unknown. */
    record Boot(Instant ipxe, Instant booted, Instant ready) {
        Double bootSeconds() {
            return seconds(ipxe, booted);
        }

        Double readySeconds() {
            return seconds(booted, ready);
        }

        /** From the first thing seen of this boot to ready: the boot-to-ready histogram's value. */
        Double bootToReadySeconds() {
            return seconds(ipxe != null ? ipxe : booted, ready);
        }

        private static Double seconds(Instant from, Instant to) {
            return from == null || to == null || to.isBefore(from)
                    ? null
                    : Duration.between(from, to).toMillis() / 1000.0;
        }
    }

    private final Map<String, Boot> byMac = new ConcurrentHashMap<>();

    /** Called with (MAC, seconds) once per boot that reaches ready. */
    private final BiConsumer<String, Double> onReady;

    BootTimes(BiConsumer<String, Double> onReady) {
        this.onReady = onReady;
    }

    /** A status listener: feeds every report through here. */
    void report(String mac, NodeStatus s) {
        if (s.step() == null || s.receivedAt() == null) {
            return;
        }
        Instant at = Instant.parse(s.receivedAt());
        Boot[] readyBoot = new Boot[1];
        byMac.compute(mac, (m, b) -> {
            switch (s.step()) {
                case NodeStatus.IPXE:
                    return new Boot(at, null, null);
                case "booted":
                    // A second "booted" without a boot script in between: a boot that did
                    // not
                    // come through this server (a disk, a reset), measured from "booted".
                    return b == null || b.booted() != null ? new Boot(null, at, null) : new Boot(b.ipxe(), at, null);
                case "ready":
                    if (b == null || b.ready() != null) {
                        return b;
                    }
                    Boot done = new Boot(b.ipxe(), b.booted(), at);
                    readyBoot[0] = done;
                    return done;
                default:
                    return b;
            }
        });
        if (readyBoot[0] != null && readyBoot[0].bootToReadySeconds() != null) {
            onReady.accept(mac, readyBoot[0].bootToReadySeconds());
        }
    }

    /** The node's last boot, or null if none was seen since this server started. */
    Boot get(String mac) {
        return byMac.get(mac);
    }
}
