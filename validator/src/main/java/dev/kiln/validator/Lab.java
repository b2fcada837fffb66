package dev.kiln.validator;

import dev.kiln.core.json.Json;
import dev.kiln.core.node.ProviderKind;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.InventoryException;
import dev.kiln.fleet.KilnServer;
import dev.kiln.machines.bmc.Secret;
import dev.kiln.machines.lab.IpmiSimBmc;
import dev.kiln.machines.lab.LabCertificate;
import dev.kiln.machines.lab.LabMachine;
import dev.kiln.machines.lab.PowerPanel;
import dev.kiln.machines.lab.RedfishService;
import dev.kiln.validator.provider.DataDisks;
import dev.kiln.validator.provider.NodeProvider;
import dev.kiln.validator.provider.NodeProvider.NodeBoot;
import dev.kiln.validator.provider.QemuPxeProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * kiln lab: a small PXE fleet on this machine behind real BMC protocols. Diskless QEMU machines on
 * the validator's private network (namespace, bridge, dnsmasq: {@link QemuPxeProvider}), an
 * in-process kiln serve whose generated inventory has a {@code bmc:} entry per node, and one BMC
 * per machine: OpenIPMI's ipmi_sim (ipmi) or the lab's Redfish service (redfish). Everything
 * carries a run label like a validation run, so {@code kiln validate --cleanup} and {@code kiln lab
 * down --all} find what a crashed lab left.
 *
 * <p>The lab directory holds what operators use: inventory.yaml, the BMC password file (0600), the
 * Redfish CA, lab.json. Closing removes all of it, the run directory and every process.
 */
public final class Lab implements AutoCloseable {
    /** mixed: ipmi and Redfish BMCs alternate, so one lab exercises both drivers. */
    public static final List<String> BMCS = List.of("ipmi", "redfish", "mixed");

    static final String STATE = "lab.json";

    /**
     * @param dir the lab directory (created; must not hold another lab)
     * @param firmwarePxe machines boot through UEFI firmware PXE and kiln's ProxyDHCP, as real servers do
     */
    public record Request(
            ImageStore store,
            ImageRef image,
            int masters,
            int workers,
            String bmc,
            Path dir,
            Path tmpRoot,
            Consumer<String> out,
            boolean firmwarePxe,
            DataDisks dataDisks) {
        public Request {
            dataDisks = dataDisks == null ? DataDisks.NONE : dataDisks;
        }

        /** Machines without data disks. */
        public Request(
                ImageStore store,
                ImageRef image,
                int masters,
                int workers,
                String bmc,
                Path dir,
                Path tmpRoot,
                Consumer<String> out,
                boolean firmwarePxe) {
            this(store, image, masters, workers, bmc, dir, tmpRoot, out, firmwarePxe, DataDisks.NONE);
        }

        /** Machines boot through QEMU's iPXE ROM. */
        public Request(
                ImageStore store,
                ImageRef image,
                int masters,
                int workers,
                String bmc,
                Path dir,
                Path tmpRoot,
                Consumer<String> out) {
            this(store, image, masters, workers, bmc, dir, tmpRoot, out, false);
        }
    }

    /** What lab.json records of one machine. */
    public record MachineInfo(String name, String role, String mac, String address, String bmc, String bmcAddress) {}

    /** lab.json: enough for status and down, read by another kiln process. */
    public record State(
            String runId,
            long pid,
            String image,
            String bmc,
            String serveUrl,
            String inventory,
            List<MachineInfo> machines) {}

    private final Request req;
    private final List<AutoCloseable> bmcs = new ArrayList<>();
    private final Map<String, LabMachine> labMachines = new LinkedHashMap<>();
    private RunLabel run;
    private QemuPxeProvider provider;
    private KilnServer server;
    private State state;
    private boolean closed;

    private Lab(Request req) {
        this.req = req;
    }

    /** Starts the lab; on any failure removes what was made and rethrows. */
    public static Lab start(Request req) throws IOException, InterruptedException {
        if (!BMCS.contains(req.bmc())) {
            throw new IllegalArgumentException("--bmc: expected ipmi, redfish or mixed, got '" + req.bmc() + "'");
        }
        if (req.masters() < 1 || req.workers() < 0) {
            throw new IllegalArgumentException("--masters must be at least 1 and --workers at least 0");
        }
        if (Files.exists(req.dir().resolve(STATE))) {
            throw new IllegalArgumentException(
                    "a lab already lives in " + req.dir() + " (kiln lab down --dir " + req.dir() + " first)");
        }
        Lab lab = new Lab(req);
        try {
            lab.up();
            return lab;
        } catch (IOException | InterruptedException | RuntimeException e) {
            lab.close();
            throw e;
        }
    }

    private void up() throws IOException, InterruptedException {
        Manifest manifest = req.store().manifest(req.image());
        Path versionDir = req.store().dir(req.image());
        Providers.checkUsable(ProviderKind.QEMU_PXE.wire(), manifest, versionDir);
        Files.createDirectories(req.dir());
        synchronized (this) {
            run = RunLabel.create(req.tmpRoot());
            provider = new QemuPxeProvider(run, versionDir, manifest, req.out(), req.firmwarePxe())
                    .withDataDisks(req.dataDisks());
        }
        req.out()
                .accept("lab "
                        + run.id()
                        + ": "
                        + req.masters()
                        + " master(s) + "
                        + req.workers()
                        + " worker(s) of "
                        + req.image()
                        + ", "
                        + req.bmc()
                        + " BMCs");
        NodeProvider.Lan lan = provider.createNetwork(req.masters() + req.workers());
        List<NodeBoot> nodes = Validator.plannedNodes(run.id(), req.masters(), req.workers(), lan.nodeAddresses());

        Secret password = newPassword();
        Map<String, Inventory.Bmc> bmcEntries = startBmcs(nodes, password);
        Path inventory = writeInventory(nodes, bmcEntries);
        try {
            server = KilnServer.start(new KilnServer.Options(
                    inventory,
                    req.store(),
                    lan.serverAddress(),
                    0,
                    null,
                    run.dir().resolve("serve-state"),
                    1000));
        } catch (InventoryException e) {
            throw new IOException("generated inventory " + inventory + " is invalid: " + e.getMessage(), e);
        }
        List<NodeBoot> withTokens = new ArrayList<>();
        for (NodeBoot n : nodes) {
            withTokens.add(new NodeBoot(
                    n.name(), n.role(), n.mac(), n.address(), server.token(n.mac()), server.metadataOf(n.mac())));
        }
        provider.start(withTokens, server.publicUrl());
        provider.machines().forEach((name, vm) -> labMachines.get(name).attach(vm));
        List<MachineInfo> infos = new ArrayList<>();
        for (NodeBoot n : nodes) {
            infos.add(new MachineInfo(
                    n.name(),
                    n.role(),
                    n.mac(),
                    n.address(),
                    bmcEntries.get(n.name()).driver(),
                    bmcEntries.get(n.name()).address()));
        }
        state = new State(
                run.id(),
                ProcessHandle.current().pid(),
                req.image().toString(),
                req.bmc(),
                server.publicUrl(),
                inventory.toString(),
                infos);
        Json.MAPPER.writer().writeValue(req.dir().resolve(STATE).toFile(), state);
        req.out().accept("lab " + run.id() + " up: kiln serve at " + server.publicUrl() + ", inventory " + inventory);
    }

    /** One BMC per machine; returns each node's inventory bmc: entry. */
    private Map<String, Inventory.Bmc> startBmcs(List<NodeBoot> nodes, Secret password)
            throws IOException, InterruptedException {
        for (NodeBoot n : nodes) {
            labMachines.put(n.name(), new LabMachine(n.name()));
        }
        Map<String, String> kindOf = new LinkedHashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            String kind = req.bmc().equals("mixed") ? (i % 2 == 0 ? "ipmi" : "redfish") : req.bmc();
            kindOf.put(nodes.get(i).name(), kind);
        }
        Map<String, Inventory.Bmc> entries = new LinkedHashMap<>();
        if (kindOf.containsValue("ipmi")) {
            PowerPanel panel = PowerPanel.start();
            bmcs.add(panel);
            for (NodeBoot n : nodes) {
                if (!kindOf.get(n.name()).equals("ipmi")) {
                    continue;
                }
                panel.add(labMachines.get(n.name()));
                IpmiSimBmc sim = IpmiSimBmc.startWithPassword(
                        labMachines.get(n.name()),
                        panel,
                        run.dir().resolve("bmc").resolve(n.name()),
                        ProcessBuilder::start,
                        password);
                bmcs.add(sim);
                entries.put(
                        n.name(),
                        new Inventory.Bmc(
                                "ipmi",
                                sim.address(),
                                sim.user(),
                                "bmc.pass",
                                null,
                                null,
                                null,
                                null,
                                null,
                                IpmiSimBmc.CIPHER_SUITE));
                req.out().accept("ipmi BMC of " + n.name() + " (ipmi_sim) at " + sim.address());
            }
        }
        if (kindOf.containsValue("redfish")) {
            LabCertificate cert = LabCertificate.create(run.dir().resolve("tls"));
            Files.copy(cert.caFile(), req.dir().resolve("bmc-ca.pem"));
            RedfishService service = RedfishService.start(cert, "admin", password);
            bmcs.add(service);
            for (NodeBoot n : nodes) {
                if (!kindOf.get(n.name()).equals("redfish")) {
                    continue;
                }
                service.add(labMachines.get(n.name()));
                entries.put(
                        n.name(),
                        new Inventory.Bmc(
                                "redfish",
                                service.url(),
                                "admin",
                                "bmc.pass",
                                null,
                                null,
                                n.name(),
                                "bmc-ca.pem",
                                null,
                                null));
                req.out().accept("Redfish BMC of " + n.name() + " at " + service.url());
            }
        }
        return entries;
    }

    /** The BMCs' password, in DIR/bmc.pass (0600) where the inventory's passwordFile points. */
    private Secret newPassword() throws IOException {
        byte[] b = new byte[8];
        new SecureRandom().nextBytes(b);
        String pw = HexFormat.of().formatHex(b);
        Path file = req.dir().resolve("bmc.pass");
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, pw + "\n");
        return Secret.of(pw, "file " + file);
    }

    private Path writeInventory(List<NodeBoot> nodes, Map<String, Inventory.Bmc> bmc) throws IOException {
        List<Inventory.Node> invNodes = nodes.stream()
                .map(n -> new Inventory.Node(n.mac(), n.name(), n.role(), n.address(), null, null, bmc.get(n.name())))
                .toList();
        Inventory.Cluster cluster =
                new Inventory.Cluster(clusterName(), null, req.image().toString(), 300, null, invNodes);
        Path file = req.dir().resolve("inventory.yaml");
        new Inventory.Document(List.of(cluster)).write(file);
        return file;
    }

    public State state() {
        return state;
    }

    public KilnServer server() {
        return server;
    }

    public String runId() {
        return run.id();
    }

    /** The lab's one cluster, as named in its inventory. */
    public String clusterName() {
        return "lab-" + run.id();
    }

    /**
     * Removes everything: BMCs, kiln serve, machines, network, run directory, the lab directory's
     * files.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (AutoCloseable b : bmcs) {
            try {
                b.close();
            } catch (Exception e) {
                req.out().accept("closing " + b + ": " + e.getMessage());
            }
        }
        if (server != null) {
            server.close();
        }
        if (provider != null) {
            provider.close();
        }
        if (run != null) {
            run.deleteDir();
        }
        removeLabFiles(req.dir());
    }

    /** The lab directory's files (and the directory, when nothing else is in it). */
    static void removeLabFiles(Path dir) {
        for (String f : List.of(STATE, "inventory.yaml", "bmc.pass", "bmc-ca.pem", "lab.log")) {
            try {
                Files.deleteIfExists(dir.resolve(f));
            } catch (IOException e) {
                // reported by status/down when it matters
            }
        }
        try {
            Files.deleteIfExists(dir);
        } catch (IOException notEmpty) {
            // the user's own files stay
        }
    }
}
