package dev.kiln.validator.power;

import dev.kiln.fleet.Inventory;
import dev.kiln.machines.Machine;
import dev.kiln.machines.bmc.BmcEndpoint;
import dev.kiln.machines.bmc.IpmiMachine;
import dev.kiln.machines.bmc.ManualMachine;
import dev.kiln.machines.bmc.RedfishMachine;
import dev.kiln.machines.bmc.Secret;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * An inventory node's {@code bmc:} entry (a plain record of kiln serve's inventory) as a {@link
 * Machine} of the machines module: the one place the two meet, so fleet needs no BMC code. Relative
 * passwordFile and caFile paths are relative to the inventory file.
 */
public final class BmcMachines {
    private BmcMachines() {}

    /**
     * @param tell where a manual machine's instructions for the operator go
     * @throws IOException naming the node when it has no bmc: entry or its password cannot be read
     */
    public static Machine of(Inventory.Member member, Path inventoryFile, Duration timeout, Consumer<String> tell)
            throws IOException {
        Inventory.Bmc bmc = member.node().bmc();
        String node = member.name();
        if (bmc == null) {
            throw new IOException("node "
                    + node
                    + " (cluster "
                    + member.cluster().name()
                    + ") has no bmc: entry in "
                    + inventoryFile);
        }
        if ("manual".equals(bmc.driver())) {
            return new ManualMachine(node, tell);
        }
        Path dir = inventoryFile.toAbsolutePath().getParent();
        Secret password;
        try {
            password = bmc.passwordFile() != null
                    ? Secret.fromFile(dir.resolve(bmc.passwordFile()))
                    : Secret.fromEnv(bmc.passwordEnv());
        } catch (IOException e) {
            throw new IOException("node " + node + ": " + e.getMessage(), e);
        }
        BmcEndpoint endpoint = new BmcEndpoint(
                node,
                bmc.address(),
                bmc.user(),
                password,
                bmc.systemId(),
                bmc.caFile() == null ? null : dir.resolve(bmc.caFile()),
                Boolean.TRUE.equals(bmc.insecure()),
                false,
                timeout,
                bmc.cipherSuite());
        return switch (bmc.driver()) {
            case "ipmi" -> new IpmiMachine(endpoint);
            case "redfish" -> new RedfishMachine(endpoint);
            default -> throw new IOException("node " + node + ": unknown BMC driver '" + bmc.driver() + "'");
        };
    }
}
