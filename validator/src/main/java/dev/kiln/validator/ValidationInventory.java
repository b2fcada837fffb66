package dev.kiln.validator;

import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.validator.provider.NodeProvider.NodeBoot;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Why: the throwaway cluster a validation boots is described the way a real one is, as nodes
 * (names, MACs, addresses) in an inventory with metadata for kiln serve; making those up is apart
 * from running the validation.
 */
final class ValidationInventory {
    private ValidationInventory() {}

    /** m1..mN then w1..wN; MACs carry the run id, so two runs never share one. */
    static List<NodeBoot> plannedNodes(String runId, int masters, int workers, List<String> addresses) {
        List<NodeBoot> out = new ArrayList<>();
        String id = runId.substring(2);
        int n = masters + workers;
        for (int i = 0; i < n; i++) {
            boolean master = i < masters;
            String name = master ? "m" + (i + 1) : "w" + (i + 1 - masters);
            String mac = String.format(
                    Locale.ROOT,
                    "52:54:%s:%s:%s:%02x",
                    id.substring(0, 2),
                    id.substring(2, 4),
                    id.substring(4, 6),
                    i + 1);
            out.add(new NodeBoot(name, master ? "master" : "worker", mac, addresses.get(i), null, null));
        }
        return out;
    }

    /**
     * Writes inventory.yaml into the run's directory: one cluster validate-RUNID of {@code nodes},
     * whose metadata tells the agents which checks to run and how long bootstrap may take.
     */
    static Path write(RunLabel run, Manifest manifest, List<NodeBoot> nodes, CheckPlan plan, Duration timeout)
            throws IOException {
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("kilnChecks", plan.metadataValue());
        metadata.put("bootstrapTimeout", Long.toString(timeout.toSeconds()));
        List<Inventory.Node> invNodes = nodes.stream()
                .map(n -> new Inventory.Node(n.mac(), n.name(), n.role(), n.address(), null, null))
                .toList();
        Inventory.Cluster cluster = new Inventory.Cluster(
                "validate-" + run.id(), null, manifest.ref(), (int) timeout.toSeconds(), metadata, invNodes);
        Path file = run.dir().resolve("inventory.yaml");
        new Inventory.Document(List.of(cluster)).write(file);
        return file;
    }
}
