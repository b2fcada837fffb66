package dev.kiln.validator.provider;

import dev.kiln.core.store.Manifest;
import dev.kiln.machines.container.Dockerd;
import dev.kiln.machines.container.NodeContainer;
import dev.kiln.machines.container.NodeImage;
import dev.kiln.validator.RunLabel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Nodes as systemd containers of the local dockerd, made from the image's rootfs.tar, on a bridge
 * network of their own. The host has the bridge's gateway address, so kiln serve listens there;
 * each node gets its kiln.server= and kiln.token= from a file mounted at /etc/kiln/cmdline (the
 * agent reads it like kernel arguments).
 *
 * <p>Every container and network carries {@link RunLabel#DOCKER_LABEL}; {@link #close} removes them
 * by that label, so even one whose creation failed halfway is found.
 */
public final class ContainerProvider implements NodeProvider {
    public static final String DOCKER_HOST = Dockerd.HOST;
    static final String NODE_LABEL = "dev.kiln.validate.node";
    static final String IMAGE_LABEL = "dev.kiln.image";
    private static final String UNREACHABLE_HINT = "(start it, or use --provider qemu-pxe)";

    /**
     * Sorts before the image's own .network files, so networkd takes it for eth0: keep the address
     * Docker gave, ask no DHCP server (there is none on the bridge). With the image's DHCP=yes file
     * networkd keeps Docker's address but systemd-networkd-wait-online never sees the link
     * configured, so network-online.target, and the agent after it, waits 2 minutes. Mounted
     * read-only; the image is not changed.
     */
    private static final String NETWORK_FILE = "/etc/systemd/network/00-kiln-container.network";

    private static final String NETWORK_UNIT = """
            # kiln validate (container provider): Docker configured eth0 already.
            [Match]
            Name=eth0

            [Network]
            DHCP=no
            LinkLocalAddressing=no
            IPv6AcceptRA=no
            KeepConfiguration=yes
            """;

    /**
     * Docker bind-mounts its own /etc/hostname and /etc/hosts into every container; the agent
     * replaces both by renaming a new file over them, which fails on a mount point (EBUSY). So the
     * agent unit first unmounts them, leaving the image's files for it to rewrite, as on a machine.
     * Docker's /etc/resolv.conf (its DNS server for the network) stays.
     */
    private static final String AGENT_DROP_IN = "/etc/systemd/system/kiln-agent.service.d/50-kiln-container.conf";

    private static final String AGENT_UNIT = """
            # kiln validate (container provider): give the agent the image's /etc/hostname and /etc/hosts.
            [Service]
            ExecStartPre=-/bin/umount /etc/hostname /etc/hosts
            """;

    private final RunLabel run;
    private final Manifest manifest;
    private final Path rootfsTar;
    private final String rootfsSha256;
    private final Consumer<String> log;
    private final Dockerd docker;
    private final String network;
    private final Map<String, NodeContainer> machines = new ConcurrentHashMap<>();
    // close() sets it first, then waits for the monitor: start() creates one container at a
    // time while holding it and checks the flag before each, so nothing is created after close.
    private volatile boolean closed;
    private boolean clientClosed;

    /** Checks the image only; dockerd is first asked in {@link #createNetwork}. */
    public ContainerProvider(RunLabel run, Path versionDir, Manifest manifest, Consumer<String> log)
            throws IOException {
        this.run = run;
        this.manifest = manifest;
        this.log = log;
        this.rootfsTar = versionDir.resolve("rootfs.tar");
        Manifest.Artifact tar =
                manifest.artifacts() == null ? null : manifest.artifacts().get("rootfs.tar");
        if (tar == null || !Files.isRegularFile(rootfsTar)) {
            throw new IOException("rootfs.tar missing in "
                    + versionDir
                    + ": the image was built without the rootfs-tar output (add it to the spec's outputs)");
        }
        this.rootfsSha256 = tar.sha256();
        // kiln images are Debian: systemd-sysv is what makes /sbin/init systemd, our PID 1.
        if (manifest.packages() == null || !manifest.packages().containsKey("systemd-sysv")) {
            throw new IOException(manifest.ref()
                    + " has no systemd-sysv package, so its /sbin/init is not systemd;"
                    + " the container provider boots nodes with systemd as PID 1");
        }
        this.docker = Dockerd.connect(UNREACHABLE_HINT);
        this.network = "kiln-" + run.id();
    }

    @Override
    public String name() {
        return "container";
    }

    @Override
    public boolean sharesHostKernel() {
        return true;
    }

    /** kiln-node/NAME:VERSION-SHA12, the rootfs.tar's digest making it unique per content. */
    public String imageTag() {
        return "kiln-node/" + manifest.name() + ":" + manifest.version() + "-" + rootfsSha256.substring(0, 12);
    }

    @Override
    public synchronized Lan createNetwork(int nodes) throws IOException {
        if (nodes < 1 || nodes > 240) {
            throw new IllegalArgumentException("a /24 network holds 1 to 240 nodes, not " + nodes);
        }
        checkOpen();
        checkDockerd(docker);
        for (int attempt = 1; ; attempt++) {
            // 10.160.0.0-10.254.255.0: far from Docker's own pools (172.17+, 192.168) and common
            // LANs.
            String prefix = "10."
                    + ThreadLocalRandom.current().nextInt(160, 255)
                    + "."
                    + ThreadLocalRandom.current().nextInt(0, 256)
                    + ".";
            // The host side of the bridge is named like the network: easy to spot in "ip link".
            // No masquerading: nodes reach each other and kiln serve, nothing beyond.
            if (!docker.createBridgeNetwork(network, Map.of(RunLabel.DOCKER_LABEL, run.id()), prefix)) {
                if (attempt < 8) {
                    continue;
                }
                throw new IOException(
                        "cannot create Docker network " + network + ": every subnet tried overlaps one in use");
            }
            List<String> addresses = new ArrayList<>();
            for (int i = 0; i < nodes; i++) {
                addresses.add(prefix + (10 + i));
            }
            log.accept("network " + network + ": " + prefix + "0/24, kiln serve on " + prefix + "1");
            return new Lan(prefix + "1", addresses);
        }
    }

    @Override
    public void start(List<NodeBoot> nodes, String serverUrl) throws IOException, InterruptedException {
        checkOpen();
        String image = ensureImage();
        Files.writeString(runFile("container.network"), NETWORK_UNIT);
        Files.writeString(runFile("kiln-agent.conf"), AGENT_UNIT);
        for (NodeBoot node : nodes) {
            Path dir = Files.createDirectories(nodeDir(node.name()));
            Path cmdline = dir.resolve("cmdline");
            Files.writeString(cmdline, "kiln.server=" + serverUrl + " kiln.token=" + node.token() + "\n");
            Files.setPosixFilePermissions(cmdline, PosixFilePermissions.fromString("rw-------"));
        }
        for (NodeBoot node : nodes) {
            startNode(node, image);
        }
    }

    private synchronized void startNode(NodeBoot node, String image) throws IOException {
        checkOpen();
        Map<Path, String> binds = new LinkedHashMap<>();
        binds.put(nodeDir(node.name()).resolve("cmdline"), "/etc/kiln/cmdline");
        binds.put(runFile("container.network"), NETWORK_FILE);
        binds.put(runFile("kiln-agent.conf"), AGENT_DROP_IN);
        NodeContainer machine = new NodeContainer(
                docker,
                new NodeContainer.Spec(
                        node.name(),
                        containerName(node.name()),
                        image,
                        network,
                        node.address(),
                        node.mac(),
                        Map.of(RunLabel.DOCKER_LABEL, run.id(), NODE_LABEL, node.name()),
                        binds));
        machines.put(node.name(), machine);
        machine.powerOn();
        log.accept("started " + machine.containerName() + " at " + node.address());
    }

    @Override
    public Map<String, NodeContainer> machines() {
        return Map.copyOf(machines);
    }

    /** The node image, imported from rootfs.tar unless dockerd has it already. */
    private String ensureImage() throws IOException {
        return new NodeImage(rootfsTar, rootfsSha256, imageTag(), IMAGE_LABEL + "=" + manifest.ref(), manifest.ref())
                .ensure(docker, log);
    }

    @Override
    public String consoleTail(String node, int lines) {
        return docker.logTail(containerName(node), lines);
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            if (clientClosed) {
                return;
            }
            clientClosed = true;
            try {
                docker.removeLabelled(RunLabel.DOCKER_LABEL, run.id(), log);
            } catch (RuntimeException e) {
                log.accept("could not remove the containers and network of run " + run.id() + ": " + e.getMessage());
            } finally {
                try {
                    docker.close();
                } catch (IOException | RuntimeException e) {
                    log.accept("closing the Docker client: " + e.getMessage());
                }
            }
        }
    }

    /**
     * kiln validate --cleanup: removes the containers and networks of every run that {@code
     * isLiveRun} says is over. Returns how many were removed.
     */
    public static int cleanupStale(Predicate<String> isLiveRun, Consumer<String> log) throws IOException {
        try (Dockerd docker = Dockerd.connect(UNREACHABLE_HINT)) {
            checkDockerd(docker);
            Set<String> stale = docker.labelValues(RunLabel.DOCKER_LABEL);
            stale.removeIf(isLiveRun);
            int removed = 0;
            for (String id : stale) {
                removed += docker.removeLabelled(RunLabel.DOCKER_LABEL, id, log);
            }
            return removed;
        }
    }

    /** Bind mount sources: absolute paths on the dockerd host, which is this one. */
    private Path nodeDir(String node) {
        return run.dir().toAbsolutePath().resolve(node);
    }

    private Path runFile(String name) {
        return run.dir().toAbsolutePath().resolve(name);
    }

    private String containerName(String node) {
        return network + "-" + node;
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IOException("run " + run.id() + " is being shut down");
        }
    }

    /** Reachable, and a host where this provider's way of running systemd works. */
    private static void checkDockerd(Dockerd docker) throws IOException {
        String cgroups = docker.cgroupVersion();
        // Only cgroup v1 hosts are known to work: on v2, Docker before 25 mounts /sys/fs/cgroup
        // read-only in unprivileged containers, and systemd cannot mount v1 hierarchies there.
        if (cgroups != null && !cgroups.equals("1")) {
            throw new IOException("dockerd at "
                    + DOCKER_HOST
                    + " runs with cgroup v"
                    + cgroups
                    + "; the container provider supports cgroup v1 hosts only so far (use --provider qemu-pxe)");
        }
    }

    /** A client of the dockerd this provider uses (tests look at what a run left there). */
    static Dockerd client() {
        return Dockerd.connect(UNREACHABLE_HINT);
    }
}
