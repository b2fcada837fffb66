package dev.kiln.validator.provider;

import dev.kiln.core.exec.Exec;
import dev.kiln.core.util.ConsoleText;
import dev.kiln.machines.qemu.QemuVm;
import dev.kiln.validator.RunLabel;
import dev.kiln.validator.provider.NodeProvider.NodeBoot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * The private network of one run of a QEMU provider, and the processes on it: a namespace
 * kiln-RUNID holding a bridge, one tap per machine and dnsmasq (DHCP only, fixed addresses per
 * MAC); a veth pair joins it to the host, whose end gets .1 for kiln serve. Nothing is routed
 * beyond the /24, so nodes reach nothing but the host's .1 and each other. Needs root (or
 * CAP_NET_ADMIN) for the namespace, dnsmasq and QEMU.
 *
 * <p>Every command that creates something and every process start checks {@link #closed} under this
 * object's lock, so {@link #close} (from any thread) never misses what was created.
 */
final class NamespaceLan implements AutoCloseable {
    private static final String BRIDGE = "br0";
    private static final int FIRST_NODE = 10;

    private final RunLabel run;
    private final String provider;
    private final Consumer<String> log;
    private final String namespace;
    private final String hostVeth;

    /** Guarded by this. */
    private final List<Process> processes = new ArrayList<>();

    private final Map<String, QemuVm> machines = new ConcurrentHashMap<>();
    private boolean closed;
    private String subnet;
    private List<String> nodeAddresses = List.of();

    /**
     * @param provider the provider's name, for error messages
     */
    NamespaceLan(RunLabel run, String provider, Consumer<String> log) {
        this.run = run;
        this.provider = provider;
        this.log = log;
        this.namespace = NamespaceCleanup.namespaceOf(run.id());
        this.hostVeth = NamespaceCleanup.hostVethOf(run.id());
    }

    NodeProvider.Lan create(int nodes) throws IOException, InterruptedException {
        if (nodes < 1 || nodes > 240) {
            throw new IllegalArgumentException(provider + " runs 1 to 240 nodes, not " + nodes);
        }
        long t0 = System.nanoTime();
        subnet = LanSubnet.findFree();
        String nsVeth = run.id() + "n";
        ip("netns", "add", namespace);
        ip("-n", namespace, "link", "set", "lo", "up");
        // No STP and no forwarding delay: a tap must pass DHCP the moment its machine starts.
        ip("-n", namespace, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0");
        ip("-n", namespace, "addr", "add", subnet + ".2/24", "dev", BRIDGE);
        // An IPv6 prefix only so dnsmasq can send router advertisements (qemu-pxe's, for iPXE).
        ip("-n", namespace, "addr", "add", LanSubnet.ipv6Prefix(subnet) + "2/64", "dev", BRIDGE, "nodad");
        ip("-n", namespace, "link", "set", BRIDGE, "up");
        ip("link", "add", hostVeth, "type", "veth", "peer", "name", nsVeth, "netns", namespace);
        ip("-n", namespace, "link", "set", nsVeth, "master", BRIDGE, "up");
        ip("addr", "add", subnet + ".1/24", "dev", hostVeth);
        ip("link", "set", hostVeth, "up");
        List<String> addresses = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            addresses.add(subnet + "." + (FIRST_NODE + i));
        }
        nodeAddresses = List.copyOf(addresses);
        log.accept("network "
                + subnet
                + ".0/24 in namespace "
                + namespace
                + " (host "
                + hostVeth
                + " "
                + subnet
                + ".1) "
                + millis(t0));
        return new NodeProvider.Lan(hostAddress(), nodeAddresses);
    }

    /** The host's end of the veth: kiln serve (and whatever else nodes must reach) listens here. */
    String hostAddress() {
        return subnet + ".1";
    }

    /** The bridge's address: the nodes' default gateway, which forwards nothing. */
    String gateway() {
        return subnet + ".2";
    }

    String hostVeth() {
        return hostVeth;
    }

    String bridge() {
        return BRIDGE;
    }

    /**
     * Starts dnsmasq in the namespace: DHCP only, a fixed address per node's MAC, nothing for
     * anyone else. {@code extraConf} holds the provider's own lines (boot file, routes, ...).
     */
    void startDhcp(List<NodeBoot> nodes, String purpose, String extraConf) throws IOException, InterruptedException {
        if (subnet == null) {
            throw new IllegalStateException("createNetwork must come before start");
        }
        String conf = DnsmasqDhcp.config(
                run.id(), run.dir(), BRIDGE, subnet, gateway(), nodeAddresses, nodes, purpose, extraConf);
        Path confFile = run.dir().resolve("dnsmasq.conf");
        Path logFile = run.dir().resolve("dnsmasq.log");
        Files.writeString(confFile, conf);
        // ip netns exec execs dnsmasq, so the child is dnsmasq itself. The conf path carries the
        // run's process marker for --cleanup.
        Process p = launch(new ProcessBuilder(
                        "ip",
                        "netns",
                        "exec",
                        namespace,
                        DnsmasqDhcp.binary(provider),
                        "--keep-in-foreground",
                        "--conf-file=" + confFile)
                .redirectErrorStream(true)
                .redirectOutput(logFile.toFile()));
        DnsmasqDhcp.awaitReady(p, logFile, namespace);
    }

    /**
     * A QEMU machine for {@code node} in the namespace, on a new tap {@code tap} on the bridge,
     * named after the run's process marker (for --cleanup), headless, serial console to the node's
     * directory, and powered on. {@code machineArgs} (accelerator, memory, firmware, disks) go
     * before the network arguments; {@code nicOptions} are appended to the virtio-net device.
     * close() kills it with every other process of the run.
     */
    QemuVm startMachine(NodeBoot node, String tap, List<String> machineArgs, String nicOptions)
            throws IOException, InterruptedException {
        Path dir = nodeDir(node.name());
        Files.createDirectories(dir);
        ip("-n", namespace, "tuntap", "add", "dev", tap, "mode", "tap");
        ip("-n", namespace, "link", "set", tap, "master", BRIDGE, "up");
        QemuVm vm = QemuVm.builder(node.name(), dir)
                .launcher(List.of("ip", "netns", "exec", namespace))
                .processName(run.processMarker() + "-" + node.name())
                .args(machineArgs)
                .nic(new QemuVm.Nic(tap, node.mac(), nicOptions))
                .startWith(this::launch)
                .build();
        machines.put(node.name(), vm);
        vm.powerOn();
        return vm;
    }

    /** QEMU fails on a bad tap or option at once; later trouble shows on the console. */
    static void checkMachinesStarted(List<QemuVm> machines) throws IOException, InterruptedException {
        Thread.sleep(1000);
        for (QemuVm m : machines) {
            m.checkRunning();
        }
    }

    /** The machines started so far, by node name. */
    Map<String, QemuVm> machines() {
        return Map.copyOf(machines);
    }

    Path nodeDir(String node) {
        return run.dir().resolve(node);
    }

    String consoleTail(String node, int lines) {
        return ConsoleText.tail(readQuietly(nodeDir(node).resolve("console.log")), lines);
    }

    /** Kills every process started here, then removes the veth and the namespace. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        long t0 = System.nanoTime();
        for (Process p : processes) {
            p.destroyForcibly();
        }
        for (Process p : processes) {
            waitQuietly(p);
        }
        // The veth first: a deleted namespace frees its devices asynchronously, so the host end
        // would outlive "ip netns del" for a moment. Deleting one end removes both.
        if (Files.exists(Path.of("/sys/class/net", hostVeth))) {
            runQuietly("ip", "link", "del", hostVeth);
        }
        runQuietly("ip", "netns", "del", namespace);
        log.accept("stopped " + processes.size() + " process(es), removed namespace " + namespace + " " + millis(t0));
    }

    /** Starts a process unless closed; close() kills everything started here. */
    private synchronized Process launch(ProcessBuilder pb) throws IOException {
        if (closed) {
            throw new IOException("kiln validate is stopping; not starting " + String.join(" ", pb.command()));
        }
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    private void ip(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(Arrays.asList(args));
        command(cmd);
    }

    /**
     * Runs a command that creates part of the run unless closed (so nothing is created after close,
     * and close waits for one that is running). Fails with its output.
     */
    synchronized void command(List<String> cmd) throws IOException, InterruptedException {
        if (closed) {
            throw new IOException("kiln validate is stopping; not running " + String.join(" ", cmd));
        }
        Exec.Result r = Exec.of(cmd).runAllowingFailure();
        if (r.exitCode() != 0) {
            boolean denied = r.output().contains("not permitted") || r.output().contains("Permission denied");
            throw new IOException(String.join(" ", cmd)
                    + " failed: "
                    + r.output().strip()
                    + (denied ? " (kiln validate --provider " + provider + " needs root or CAP_NET_ADMIN)" : ""));
        }
    }

    /** See {@link NamespaceCleanup#run}. */
    static int cleanupStale(Predicate<String> isLiveRun, Consumer<String> log) {
        return NamespaceCleanup.run(isLiveRun, log);
    }

    /** The run id in {@code text} (a marker "kiln-validate-kvXXXXXX"), if any. */
    static Optional<String> runIdIn(String text) {
        return NamespaceCleanup.runIdIn(text);
    }

    /** The command's output, or {@code orElse} if it cannot run. */
    static String exec(List<String> cmd, String orElse) {
        try {
            return Exec.of(cmd).runAllowingFailure().output();
        } catch (IOException e) {
            return orElse;
        }
    }

    static boolean runQuietly(String... cmd) {
        try {
            return Exec.of(cmd).runAllowingFailure().exitCode() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static void waitQuietly(Process p) {
        try {
            p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static String readQuietly(Path file) {
        try {
            return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    static String millis(long t0) {
        return "(" + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms)";
    }
}
