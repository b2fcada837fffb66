package dev.kiln.cli;

import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.InventoryLoader;
import dev.kiln.machines.Machine;
import dev.kiln.validator.power.BmcMachines;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "bmc",
        mixinStandardHelpOptions = true,
        description = {
            "Operates the power of inventory nodes through their BMCs (bmc: in the inventory).",
            "status: a table of node, driver, address, power and the last error;",
            "on, off, cycle: power; pxe-once: the next boot (only) from the network."
        },
        footer = {
            "",
            "Examples:",
            "  kiln bmc status --inventory fleet.yaml",
            "  kiln bmc pxe-once --inventory fleet.yaml w1 w2 && kiln bmc cycle --inventory fleet.yaml w1 w2",
            "  kiln bmc off --inventory fleet.yaml --cluster lab"
        })
final class BmcCommand implements Callable<Integer> {
    enum Action {
        status,
        on,
        off,
        cycle,
        pxe_once
    }

    @Parameters(
            index = "0",
            paramLabel = "ACTION",
            description = "status, on, off, cycle or pxe-once.",
            converter = ActionConverter.class)
    Action action;

    @Parameters(
            index = "1..*",
            paramLabel = "NODE",
            description = "Nodes by name (default: every node with a bmc: entry).")
    List<String> nodes = new ArrayList<>();

    @Option(
            names = "--inventory",
            required = true,
            paramLabel = "FILE",
            description = "The inventory (as for kiln serve).")
    Path inventory;

    @Option(names = "--cluster", paramLabel = "C", description = "Only the nodes of this cluster.")
    String cluster;

    @Option(
            names = "--timeout",
            paramLabel = "SECS",
            defaultValue = "10",
            description = "Per BMC request (retries with backoff come on top, bounded). Default: ${DEFAULT-VALUE}.")
    int timeoutSeconds;

    @Mixin
    StoreOption store;

    static final class ActionConverter implements picocli.CommandLine.ITypeConverter<Action> {
        @Override
        public Action convert(String value) {
            try {
                return Action.valueOf(value.replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(
                        "expected status, on, off, cycle or pxe-once, got '" + value + "'");
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        Inventory inv = InventoryLoader.load(inventory, store.open());
        List<Inventory.Member> chosen = new ArrayList<>();
        for (Inventory.Member m : inv.members()) {
            boolean named = nodes.isEmpty() ? m.node().bmc() != null : nodes.contains(m.name());
            if (named && (cluster == null || cluster.equals(m.cluster().name()))) {
                chosen.add(m);
            }
        }
        for (String n : nodes) {
            if (chosen.stream().noneMatch(m -> m.name().equals(n))) {
                throw new IllegalArgumentException(
                        "no node '" + n + "'" + (cluster == null ? "" : " in cluster " + cluster) + " in " + inventory);
            }
        }
        if (chosen.isEmpty()) {
            throw new IllegalArgumentException("no node of "
                    + inventory
                    + (cluster == null ? "" : " in cluster " + cluster)
                    + " has a bmc: entry");
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NODE", "DRIVER", "ADDRESS", "POWER", "LAST ERROR"});
        int failed = 0;
        for (Inventory.Member m : chosen) {
            Inventory.Bmc bmc = m.node().bmc();
            String power = "-";
            String error = "";
            try (Machine machine =
                    BmcMachines.of(m, inventory, Duration.ofSeconds(timeoutSeconds), System.out::println)) {
                switch (action) {
                    case on -> machine.powerOn();
                    case off -> machine.powerOff();
                    case cycle -> machine.powerCycle();
                    case pxe_once -> machine.bootOnceFromNetwork();
                    case status -> {}
                }
                power = machine.powerState().name().toLowerCase();
            } catch (Exception e) {
                error = e.getMessage();
                failed++;
            }
            if (action == Action.status) {
                rows.add(new String[] {
                    m.name(),
                    bmc == null ? "-" : bmc.driver(),
                    bmc == null || bmc.address() == null ? "-" : bmc.address(),
                    power,
                    error.isEmpty() ? "-" : error
                });
            } else if (error.isEmpty()) {
                System.out.println(m.name() + ": " + action.name().replace('_', '-') + " done (power " + power + ")");
            } else {
                System.err.println("kiln: " + error);
            }
        }
        if (action == Action.status) {
            Format.table(rows).forEach(System.out::println);
        }
        return failed == 0 ? 0 : 1;
    }
}
