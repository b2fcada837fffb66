package dev.kiln.rollout;

import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.machines.Machine;
import dev.kiln.validator.power.BmcMachines;
import java.io.IOException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bare metal: a diskless node is replaced by making its next boot a network boot and power-cycling
 * it through its BMC (ipmi, Redfish or manual, from the inventory's bmc: entry). It then boots the
 * version kiln serve now hands it, with a fresh root.
 */
final class BmcReplacer implements NodeReplacer {
    private static final Logger LOG = LoggerFactory.getLogger(BmcReplacer.class);

    private final KilnServer server;
    private final Duration timeout;

    BmcReplacer(KilnServer server, Duration timeout) {
        this.server = server;
        this.timeout = timeout;
    }

    @Override
    public String describe() {
        return "network boot once, then a power cycle through its BMC";
    }

    private Inventory.Member member(Node node) throws IOException {
        Inventory.Member m = server.inventory().member(node.mac());
        if (m == null) {
            throw new IOException(node.name() + " (" + node.mac() + ") is no longer in the inventory "
                    + server.inventory().file());
        }
        return m;
    }

    private Machine machine(Inventory.Member m) throws IOException {
        return BmcMachines.of(m, server.inventory().file(), timeout, line -> LOG.warn("{}: {}", m.name(), line));
    }

    /** A read-only power-state query: an unreachable BMC or a wrong password blocks the plan. */
    @Override
    public String blocker(Node node) throws InterruptedException {
        Inventory.Member m;
        try {
            m = member(node);
        } catch (IOException e) {
            return e.getMessage();
        }
        Inventory.Bmc bmc = m.node().bmc();
        if (bmc == null) {
            return node.name() + " has no bmc: entry in " + server.inventory().file()
                    + "; kiln cannot power-cycle it (add one, or driver: manual)";
        }
        if ("manual".equals(bmc.driver())) {
            return null;
        }
        try (Machine machine = machine(m)) {
            machine.powerState();
            return null;
        } catch (IOException | RuntimeException e) {
            return "the " + bmc.driver() + " BMC of " + node.name() + " (" + bmc.address() + ") does not answer a"
                    + " power-state query: " + e.getMessage();
        }
    }

    @Override
    public String replace(Node node) throws IOException, InterruptedException {
        Inventory.Member m = member(node);
        try (Machine machine = machine(m)) {
            machine.bootOnceFromNetwork();
            Machine.PowerState before = machine.powerState();
            // Off, then on, as two requests: every BMC does both the same way, while "power cycle"
            // varies (ipmi_sim takes over a minute to come back from one).
            if (before != Machine.PowerState.OFF) {
                machine.powerOff();
            }
            machine.powerOn();
            return "network boot once, then "
                    + (before == Machine.PowerState.OFF ? "power on" : "power off and on")
                    + " through " + m.node().bmc().driver() + " "
                    + m.node().bmc().address();
        }
    }
}
