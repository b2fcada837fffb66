package dev.kiln.validator.provider;

import dev.kiln.core.json.Json;
import dev.kiln.machines.qemu.Accel;
import dev.kiln.machines.qemu.DataDisk;
import dev.kiln.machines.qemu.DiskOverlay;
import dev.kiln.machines.qemu.QemuMachine;
import dev.kiln.machines.qemu.QemuVm;
import dev.kiln.validator.RunLabel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * QEMU machines booting the image's disk/disk.raw, the artifact that becomes an AMI, as an EC2
 * Nitro instance would: UEFI (OVMF), the disk on NVMe, and the node's metadata document as user
 * data from IMDSv2 at 169.254.169.254. The image's kernel command line is GRUB's, so nothing points
 * the node at kiln serve but that user data (its "server" and "token").
 *
 * <p>The network is a {@link NamespaceLan}. IMDS is an in-process server on the host's .1, which
 * tells nodes apart by their fixed addresses; a DNAT rule on the run's host veth sends
 * 169.254.169.254:80 to it, and DHCP gives nodes a route to 169.254.169.254 via .1. Needs root,
 * QEMU, OVMF, dnsmasq and iptables.
 */
public final class QemuDiskProvider implements NodeProvider {
    private static final String IMDS_ADDRESS = "169.254.169.254";
    private static final String DISK = "disk/disk.raw";
    private static final int MEMORY_MIB = 1024;

    private final RunLabel run;
    private final Path versionDir;
    private final Consumer<String> log;
    private final NamespaceLan lan;

    /**
     * Each node's disk size (an overlay over disk.raw), or null: disk.raw as built, under
     * -snapshot.
     */
    private final Long diskBytes;

    /** Guarded by this: start() creates the IMDS server only while not closed. */
    private boolean closed;

    private Imds imds;
    private DataDisks dataDisks = DataDisks.NONE;

    /** The rule's spec after "-t nat -A"/"-D", once start() is about to add it. */
    private volatile List<String> natRule;

    /**
     * @param versionDir the image's store directory (its disk/disk.raw boots; pxe/vmlinuz, when the
     *     image has one, proves KVM before use)
     * @param log receives one line per step, with timings
     */
    public QemuDiskProvider(RunLabel run, Path versionDir, Consumer<String> log) {
        this(run, versionDir, log, null);
    }

    /**
     * @param diskBytes each node's disk size, at least disk.raw's (as an AMI launched with a bigger
     *     root volume); null boots disk.raw at its own size
     */
    public QemuDiskProvider(RunLabel run, Path versionDir, Consumer<String> log, Long diskBytes) {
        this.run = run;
        this.versionDir = versionDir;
        this.log = log;
        this.lan = new NamespaceLan(run, name(), log);
        this.diskBytes = diskBytes;
    }

    /**
     * Gives the machines data disks: NVMe beside the boot disk, as an instance-store or EBS data
     * volume on Nitro (serial kiln-NODE-dN); before {@link #start}.
     */
    public QemuDiskProvider withDataDisks(DataDisks disks) {
        this.dataDisks = disks;
        return this;
    }

    @Override
    public String name() {
        return "qemu-disk";
    }

    @Override
    public boolean sharesHostKernel() {
        return false;
    }

    @Override
    public Lan createNetwork(int nodes) throws IOException, InterruptedException {
        // Missing tools fail the run before anything is created.
        iptables();
        QemuMachine.requireOvmf();
        long imageBytes = Files.size(versionDir.resolve(DISK));
        if (diskBytes != null && diskBytes < imageBytes) {
            throw new IllegalArgumentException("--disk-size "
                    + DiskOverlay.format(diskBytes)
                    + " is smaller than "
                    + DISK
                    + " ("
                    + DiskOverlay.format(imageBytes)
                    + "); give at least "
                    + DiskOverlay.format(imageBytes));
        }
        return lan.create(nodes);
    }

    @Override
    public void start(List<NodeBoot> nodes, String serverUrl) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        startImds(nodes);
        log.accept("IMDS for "
                + nodes.size()
                + " node(s) at "
                + lan.hostAddress()
                + ":"
                + imds.port()
                + ", reached as "
                + IMDS_ADDRESS
                + ":80 "
                + NamespaceLan.millis(t0));

        long t1 = System.nanoTime();
        lan.startDhcp(
                nodes,
                "a route to IMDS at " + IMDS_ADDRESS + " via " + lan.hostAddress(),
                // With classless routes a client ignores the router option (RFC 3442), so the
                // default route is repeated here.
                "dhcp-option=option:classless-static-route,"
                        + IMDS_ADDRESS
                        + "/32,"
                        + lan.hostAddress()
                        + ",0.0.0.0/0,"
                        + lan.gateway()
                        + "\n");
        log.accept("dnsmasq serving " + nodes.size() + " fixed address(es) " + NamespaceLan.millis(t1));

        long t2 = System.nanoTime();
        Path probe = versionDir.resolve("pxe/vmlinuz");
        String accel = Accel.choose(Files.isRegularFile(probe) ? probe : null);
        log.accept("QEMU accelerator " + accel + " " + NamespaceLan.millis(t2));

        long t3 = System.nanoTime();
        List<QemuVm> machines = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            machines.add(lan.startMachine(
                    nodes.get(i),
                    "t" + i,
                    machineArgs(nodes.get(i), accel),
                    // No iPXE ROM: the machine boots its disk, and OVMF has a virtio-net
                    // driver.
                    ",romfile="));
        }
        NamespaceLan.checkMachinesStarted(machines);
        log.accept(nodes.size()
                + " machine(s) booting "
                + DISK
                + " under UEFI ("
                + accel
                + ", "
                + MEMORY_MIB
                + " MiB"
                + (diskBytes == null ? "" : ", " + DiskOverlay.format(diskBytes) + " disk each")
                + (dataDisks.isEmpty() ? "" : ", " + dataDisks.describe())
                + ") "
                + NamespaceLan.millis(t3));
    }

    /** User data per node address, the IMDS server on .1, and the DNAT rule that leads to it. */
    private void startImds(List<NodeBoot> nodes) throws IOException, InterruptedException {
        Map<String, byte[]> userData = new LinkedHashMap<>();
        for (NodeBoot n : nodes) {
            Map<String, String> doc = new LinkedHashMap<>(n.metadata());
            if (doc.isEmpty()) {
                throw new IllegalArgumentException("node " + n.name() + " has no metadata for its user data");
            }
            // kiln serve's /metadata leaves the token out (the node already sent it to get there).
            doc.put("token", n.token());
            userData.put(n.address(), Json.COMPACT.writeValueAsBytes(doc));
        }
        synchronized (this) {
            if (closed) {
                throw new IOException("kiln validate is stopping; not starting IMDS");
            }
            imds = Imds.start(lan.hostAddress(), userData, log);
        }
        natRule = List.of(
                "PREROUTING",
                "-i",
                lan.hostVeth(),
                "-d",
                IMDS_ADDRESS + "/32",
                "-p",
                "tcp",
                "--dport",
                "80",
                "-m",
                "comment",
                "--comment",
                run.processMarker(),
                "-j",
                "DNAT",
                "--to-destination",
                lan.hostAddress() + ":" + imds.port());
        List<String> add = new ArrayList<>(List.of(iptables(), "-t", "nat", "-A"));
        add.addAll(natRule);
        lan.command(add);
    }

    /**
     * UEFI with its own copy of OVMF's variables; the store's disk under a throwaway overlay
     * (-snapshot, or with a disk size a qcow2 overlay of that size in the node's directory), on
     * NVMe as on Nitro.
     */
    private List<String> machineArgs(NodeBoot node, String accel) throws IOException {
        Path dir = lan.nodeDir(node.name());
        Files.createDirectories(dir);
        List<String> args = new ArrayList<>(Accel.args(accel));
        // One vCPU each, as for qemu-pxe: under TCG, extra vCPU threads only compete for the cores.
        args.addAll(List.of("-nodefaults", "-m", String.valueOf(MEMORY_MIB), "-smp", "1", "-no-reboot"));
        args.addAll(QemuMachine.uefiArgs(dir));
        Path disk = diskBytes == null
                ? versionDir.resolve(DISK)
                : DiskOverlay.create(versionDir.resolve(DISK), diskBytes, dir);
        args.addAll(QemuMachine.diskArgs(disk, QemuMachine.Bus.NVME));
        args.addAll(DataDisk.attach(dataDisks.of(node.name()), dir, node.name(), QemuMachine.Bus.NVME));
        return args;
    }

    @Override
    public Map<String, QemuVm> machines() {
        return lan.machines();
    }

    @Override
    public String consoleTail(String node, int lines) {
        return lan.consoleTail(node, lines);
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        // The machines and the network first: close() waits for a running command, so a rule
        // being added is in place (or never will be) when it is deleted here.
        lan.close();
        List<String> rule = natRule;
        if (rule != null) {
            List<String> del = new ArrayList<>(List.of(iptablesOrDefault(), "-t", "nat", "-D"));
            del.addAll(rule);
            NamespaceLan.runQuietly(del.toArray(String[]::new));
        }
        if (imds != null) {
            imds.close();
        }
    }

    /**
     * Removes what crashed qemu-disk runs left behind: their IMDS DNAT rules (found by the run's
     * marker in their comment), then, like {@link QemuPxeProvider#cleanupStale}, the namespaces,
     * veths and processes of crashed qemu-pxe and qemu-disk runs. Returns how many were removed.
     */
    public static int cleanupStale(Predicate<String> isLiveRun, Consumer<String> log) {
        int removed = 0;
        String iptables = iptablesOrDefault();
        for (String line : NamespaceLan.exec(List.of(iptables, "-t", "nat", "-S", "PREROUTING"), "")
                .lines()
                .toList()) {
            Optional<String> id = line.startsWith("-A ") && line.contains(" --comment ")
                    ? NamespaceLan.runIdIn(line)
                    : Optional.empty();
            if (id.isPresent() && !isLiveRun.test(id.get())) {
                List<String> del = new ArrayList<>(List.of(iptables, "-t", "nat", "-D"));
                // -S prints rules as iptables takes them; kiln's have no quoted words.
                del.addAll(Arrays.asList(line.substring(3).trim().split("\\s+")));
                if (NamespaceLan.runQuietly(del.toArray(String[]::new))) {
                    log.accept("removed NAT rule of stale run " + id.get() + ": " + line);
                    removed++;
                }
            }
        }
        return removed + NamespaceLan.cleanupStale(isLiveRun, log);
    }

    private static String iptables() throws IOException {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin")) {
            Path p = Path.of(dir, "iptables");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IOException("iptables not found: kiln validate --provider qemu-disk needs it to lead nodes' IMDS"
                + " requests (169.254.169.254) to kiln; install the Debian package iptables");
    }

    private static String iptablesOrDefault() {
        try {
            return iptables();
        } catch (IOException e) {
            return "iptables";
        }
    }
}
