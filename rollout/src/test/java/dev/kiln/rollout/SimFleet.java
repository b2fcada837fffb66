package dev.kiln.rollout;

import dev.kiln.core.store.ImageStore;
import dev.kiln.fleet.TestStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A SIMULATED fleet's files: a store with two hand-made PXE versions (sim-node:1.0.0 and 1.1.0) and
 * an inventory of one cluster "sim" with masters and workers on 10.77.0.0/16. Nothing here boots:
 * kiln serve's {@link SimulatedMachines} plays the machines. For the controller tests and
 * bench/rollout.sh.
 */
public final class SimFleet {
    public static final String A = "sim-node:1.0.0";
    public static final String B = "sim-node:1.1.0";

    private SimFleet() {}

    /** Writes DIR/store and DIR/inventory.yaml. */
    public static void prepare(Path dir, int masters, int workers) throws IOException {
        ImageStore store = new ImageStore(dir.resolve("store"));
        TestStore.pxeVersion(store, "sim-node", "1.0.0", 1024);
        TestStore.pxeVersion(store, "sim-node", "1.1.0", 1024);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("inventory.yaml"), inventory(masters, workers));
    }

    /** The inventory of cluster "sim": m1..mMASTERS, w1..wWORKERS on 10.77.0.0/16, all on {@link #A}. */
    static String inventory(int masters, int workers) {
        StringBuilder inv = new StringBuilder("clusters:\n  - name: sim\n    image: " + A + "\n    nodes:\n");
        for (int i = 0; i < masters + workers; i++) {
            boolean master = i < masters;
            String name = master ? "m" + (i + 1) : "w" + (i - masters + 1);
            inv.append(String.format(
                    "      - {mac: \"52:54:%02x:%02x:%02x:%02x\", name: %s, role: %s, address: 10.77.%d.%d}%n",
                    0x77,
                    (i >> 16) & 0xff,
                    (i >> 8) & 0xff,
                    i & 0xff,
                    name,
                    master ? "master" : "worker",
                    (i + 1) / 250,
                    (i + 1) % 250 + 1));
        }
        return inv.toString();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4 || !args[0].equals("prepare")) {
            System.err.println("usage: SimFleet prepare DIR MASTERS WORKERS");
            System.exit(2);
        }
        prepare(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
    }
}
