package dev.kiln.rollout;

import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * The drivers kiln serve's controller uses: which machines replace a cluster's nodes (BMCs, or the
 * simulation) and what keeps the cluster safe (etcd on images that run it).
 */
public final class FleetDrivers implements RolloutController.Drivers {
    /** How long one BMC request may take. */
    static final Duration BMC_TIMEOUT = Duration.ofSeconds(20);

    private final KilnServer server;
    private final SimulatedMachines simulated;

    /**
     * @param simulated every machine is simulated (kiln serve --simulate-machines), or null
     */
    public FleetDrivers(KilnServer server, SimulatedMachines simulated) {
        this.server = server;
        this.simulated = simulated;
    }

    @Override
    public NodeReplacer replacer(String cluster) {
        if (simulated != null) {
            return new NodeReplacer() {
                @Override
                public String blocker(Node node) {
                    return simulated.blocker(node);
                }

                @Override
                public String replace(Node node) throws IOException {
                    return simulated.replace(node);
                }

                @Override
                public Boolean alreadyReplaced(Node node) throws IOException {
                    return simulated.alreadyReplaced(node);
                }
            };
        }
        return new BmcReplacer(server, BMC_TIMEOUT);
    }

    @Override
    public ClusterGuard guard(String cluster, Manifest target) {
        if (simulated != null || target == null || target.components() == null) {
            return ClusterGuard.NONE;
        }
        List<Inventory.Member> masters = server.inventory().members().stream()
                .filter(m -> m.cluster().name().equals(cluster) && m.isMaster())
                .toList();
        if (target.components().containsKey("etcd") && !masters.isEmpty()) {
            return new EtcdGuard(server, cluster);
        }
        return ClusterGuard.NONE;
    }
}
