package dev.kiln.rollout;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.fleet.StateDir;
import java.io.IOException;
import java.util.Map;

/**
 * What the rollout engine reads and writes of kiln serve: the inventory, each node's last report
 * and the version it is handed, boot directives, revocations, the store and the state directory.
 * {@link #of(KilnServer)} in kiln serve; an in-memory fleet in the deterministic simulation. See
 * KilnServer for what each method means.
 */
interface FleetState {
    Inventory inventory();

    NodeStatus status(String mac);

    boolean hasBooted(String mac);

    ImageRef currentImage(String mac);

    ImageRef desiredImage(String mac);

    void repoint(String mac, ImageRef image, String rolloutId) throws IOException;

    void direct(String mac, Map<String, String> metadata) throws IOException;

    void clearDirective(String mac) throws IOException;

    Map<String, String> directive(String mac);

    Double lastBootSeconds(String mac);

    /** Why {@code image} was revoked, or null. */
    String revoked(ImageRef image);

    ImageStore store();

    ImageSource images();

    StateDir state();

    static FleetState of(KilnServer server) {
        return new FleetState() {
            @Override
            public Inventory inventory() {
                return server.inventory();
            }

            @Override
            public NodeStatus status(String mac) {
                return server.status(mac);
            }

            @Override
            public boolean hasBooted(String mac) {
                return server.hasBooted(mac);
            }

            @Override
            public ImageRef currentImage(String mac) {
                return server.currentImage(mac);
            }

            @Override
            public ImageRef desiredImage(String mac) {
                return server.desiredImage(mac);
            }

            @Override
            public void repoint(String mac, ImageRef image, String rolloutId) throws IOException {
                server.repoint(mac, image, rolloutId);
            }

            @Override
            public void direct(String mac, Map<String, String> metadata) throws IOException {
                server.direct(mac, metadata);
            }

            @Override
            public void clearDirective(String mac) throws IOException {
                server.clearDirective(mac);
            }

            @Override
            public Map<String, String> directive(String mac) {
                return server.directive(mac);
            }

            @Override
            public Double lastBootSeconds(String mac) {
                return server.lastBootSeconds(mac);
            }

            @Override
            public String revoked(ImageRef image) {
                return server.inventory().channels().revoked(image);
            }

            @Override
            public ImageStore store() {
                return server.store();
            }

            @Override
            public ImageSource images() {
                return server.images();
            }

            @Override
            public StateDir state() {
                return server.state();
            }
        };
    }
}
