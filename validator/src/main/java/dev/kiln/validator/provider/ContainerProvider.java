package dev.kiln.validator.provider;

import dev.kiln.core.json.Json;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.Network;
import com.github.dockerjava.api.model.Volume;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.transport.DockerHttpClient;
import com.github.dockerjava.zerodep.ZerodepDockerHttpClient;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.ConsoleText;
import dev.kiln.core.util.Hashing;
import dev.kiln.validator.RunLabel;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Nodes as systemd containers of the local dockerd, made from the image's rootfs.tar, on a
 * bridge network of their own. The host has the bridge's gateway address, so kiln serve listens
 * there; each node gets its kiln.server= and kiln.token= from a file mounted at
 * /etc/kiln/cmdline (the agent reads it like kernel arguments).
 *
 * <p>Every container and network carries {@link RunLabel#DOCKER_LABEL}; {@link #close} removes
 * them by that label, so even one whose creation failed halfway is found.
 */
public final class ContainerProvider implements NodeProvider {
    public static final String DOCKER_HOST = "unix:///var/run/docker.sock";
    static final String NODE_LABEL = "dev.kiln.validate.node";
    static final String IMAGE_LABEL = "dev.kiln.image";
    private static final String UNREACHABLE_HINT = "(start it, or use --provider qemu-pxe)";
    /**
     * Sorts before the image's own .network files, so networkd takes it for eth0: keep the
     * address Docker gave, ask no DHCP server (there is none on the bridge). With the image's
     * DHCP=yes file networkd keeps Docker's address but systemd-networkd-wait-online never sees
     * the link configured, so network-online.target, and the agent after it, waits 2 minutes.
     * Mounted read-only; the image is not changed.
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
     * replaces both by renaming a new file over them, which fails on a mount point (EBUSY). So
     * the agent unit first unmounts them, leaving the image's files for it to rewrite, as on a
     * machine. Docker's /etc/resolv.conf (its DNS server for the network) stays.
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
    private final DockerHttpClient http;
    private final DockerClient docker;
    private final String network;
    // close() sets it first, then waits for the monitor: start() creates one container at a
    // time while holding it and checks the flag before each, so nothing is created after close.
    private volatile boolean closed;
    private boolean clientClosed;

    /** Checks the image only; dockerd is first asked in {@link #createNetwork}. */
    public ContainerProvider(RunLabel run, Path versionDir, Manifest manifest, Consumer<String> log) throws IOException {
        this.run = run;
        this.manifest = manifest;
        this.log = log;
        this.rootfsTar = versionDir.resolve("rootfs.tar");
        Manifest.Artifact tar = manifest.artifacts() == null ? null : manifest.artifacts().get("rootfs.tar");
        if (tar == null || !Files.isRegularFile(rootfsTar)) {
            throw new IOException("rootfs.tar missing in " + versionDir
                    + ": the image was built without the rootfs-tar output (add it to the spec's outputs)");
        }
        this.rootfsSha256 = tar.sha256();
        // kiln images are Debian: systemd-sysv is what makes /sbin/init systemd, our PID 1.
        if (manifest.packages() == null || !manifest.packages().containsKey("systemd-sysv")) {
            throw new IOException(manifest.ref() + " has no systemd-sysv package, so its /sbin/init is not systemd;"
                    + " the container provider boots nodes with systemd as PID 1");
        }
        this.http = httpClient();
        this.docker = client(http);
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
            // 10.160.0.0-10.254.255.0: far from Docker's own pools (172.17+, 192.168) and common LANs.
            String prefix = "10." + ThreadLocalRandom.current().nextInt(160, 255) + "."
                    + ThreadLocalRandom.current().nextInt(0, 256) + ".";
            try {
                docker.createNetworkCmd()
                        .withName(network)
                        .withDriver("bridge")
                        .withLabels(Map.of(RunLabel.DOCKER_LABEL, run.id()))
                        // The host side of the bridge, named like the network: easy to spot in "ip link".
                        // No masquerading: nodes reach each other and kiln serve, nothing beyond.
                        .withOptions(Map.of("com.docker.network.bridge.name", network,
                                "com.docker.network.bridge.enable_ip_masquerade", "false"))
                        .withIpam(new Network.Ipam().withConfig(new Network.Ipam.Config()
                                .withSubnet(prefix + "0/24").withGateway(prefix + "1")))
                        .withCheckDuplicate(true)
                        .exec();
            } catch (RuntimeException e) {
                if (attempt < 8 && String.valueOf(e.getMessage()).contains("overlaps")) {
                    continue;
                }
                throw new IOException("cannot create Docker network " + network + " (" + prefix + "0/24): " + e.getMessage(), e);
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
        String name = containerName(node.name());
        try {
            HostConfig host = new UnconfinedPaths()
                    .withNetworkMode(network)
                    // --privileged fails where CAP_SYS_RESOURCE is outside the bounding set.
                    .withCapAdd(Capability.ALL)
                    .withCapDrop(Capability.SYS_RESOURCE)
                    .withSecurityOpts(List.of("seccomp=unconfined", "apparmor=unconfined"))
                    // cgroup v1: a private cgroup namespace and an empty /sys/fs/cgroup, where systemd
                    // mounts its hierarchies itself, rooted at the container's cgroup. Binding the
                    // host's /sys/fs/cgroup instead lets systemd remount the host's cgroup tmpfs
                    // read-only and add directories to it.
                    .withCgroupnsMode("private")
                    .withTmpFs(Map.of(
                            "/sys/fs/cgroup", "rw,nosuid,nodev,noexec,mode=755",
                            "/run", "rw,nosuid,nodev,exec,mode=755",
                            "/run/lock", "rw,nosuid,nodev,noexec,mode=1777",
                            "/tmp", "rw,nosuid,nodev,exec,mode=1777"))
                    .withBinds(
                            new Bind(nodeDir(node.name()).resolve("cmdline").toString(),
                                    new Volume("/etc/kiln/cmdline"), AccessMode.ro),
                            new Bind(runFile("container.network").toString(), new Volume(NETWORK_FILE), AccessMode.ro),
                            new Bind(runFile("kiln-agent.conf").toString(), new Volume(AGENT_DROP_IN), AccessMode.ro));
            CreateContainerCmd create = docker.createContainerCmd(image)
                    .withName(name)
                    .withHostName(node.name())
                    .withLabels(Map.of(RunLabel.DOCKER_LABEL, run.id(), NODE_LABEL, node.name()))
                    .withIpv4Address(node.address())
                    .withEnv("container=docker")
                    .withCmd("/sbin/init")
                    // systemd writes the console (and units with StandardOutput=console) to
                    // /dev/console, which Docker creates only with a terminal: no tty, no log.
                    .withTty(true)
                    .withStopSignal("SIGRTMIN+3")
                    .withHostConfig(host);
            if (node.mac() != null) {
                create.withMacAddress(node.mac());
            }
            create.exec();
            docker.startContainerCmd(name).exec();
        } catch (RuntimeException e) {
            throw new IOException("cannot start container " + name + " (" + node.address() + ", image " + image + "): "
                    + e.getMessage(), e);
        }
        log.accept("started " + name + " at " + node.address());
    }

    /**
     * What the docker CLI sends for --security-opt systempaths=unconfined (dockerd refuses that
     * option itself; docker-java has no field for these): /proc/sys writable, as a node's
     * sysctls need, and nothing in /proc or /sys masked.
     */
    private static final class UnconfinedPaths extends HostConfig {
        @JsonProperty("MaskedPaths")
        public List<String> getMaskedPaths() {
            return List.of();
        }

        @JsonProperty("ReadonlyPaths")
        public List<String> getReadonlyPaths() {
            return List.of();
        }
    }

    /** The node image, imported from rootfs.tar unless dockerd has it already. */
    private String ensureImage() throws IOException {
        String tag = imageTag();
        try {
            docker.inspectImageCmd(tag).exec();
            return tag;
        } catch (NotFoundException e) {
            // imported below
        } catch (RuntimeException e) {
            throw new IOException("cannot reach dockerd at " + DOCKER_HOST + ": " + e.getMessage() + " " + UNREACHABLE_HINT, e);
        }
        long t0 = System.nanoTime();
        String id = importUntagged();
        // Tagged only once complete and verified: a failed or killed import leaves no tag to reuse.
        try {
            int colon = tag.lastIndexOf(':');
            docker.tagImageCmd(id, tag.substring(0, colon), tag.substring(colon + 1)).exec();
        } catch (RuntimeException e) {
            removeImageQuietly(id);
            throw new IOException("cannot tag imported image " + id + " as " + tag + ": " + e.getMessage(), e);
        }
        log.accept(String.format("imported %s as %s in %.1f s", manifest.ref(), tag, (System.nanoTime() - t0) / 1e9));
        return tag;
    }

    /** POST /images/create?fromSrc=- (docker import): docker-java's createImageCmd cannot add a label. */
    private String importUntagged() throws IOException {
        log.accept(String.format("importing %s (%d MiB) into dockerd ...", rootfsTar, Files.size(rootfsTar) >> 20));
        String changes = URLEncoder.encode("LABEL " + IMAGE_LABEL + "=" + manifest.ref(), StandardCharsets.UTF_8);
        MessageDigest sha = Hashing.sha256Digest();
        String id = null;
        String error = null;
        try (InputStream tar = new DigestInputStream(Files.newInputStream(rootfsTar), sha);
             DockerHttpClient.Response r = http.execute(DockerHttpClient.Request.builder()
                     .method(DockerHttpClient.Request.Method.POST)
                     .path("/images/create?fromSrc=-&changes=" + changes)
                     .putHeader("Content-Type", "application/x-tar")
                     .body(new FilterInputStream(tar) {
                         @Override
                         public void close() {
                             // the transport closes the body once sent; the digest below still reads it
                         }
                     })
                     .build())) {
            // A stream of JSON objects, {"status": "sha256:ID"} last; or {"error"/"message": ...}.
            try (MappingIterator<JsonNode> it = Json.MAPPER.readerFor(JsonNode.class).readValues(r.getBody())) {
                while (it.hasNext()) {
                    JsonNode n = it.next();
                    if (n.hasNonNull("error") || n.hasNonNull("message")) {
                        error = n.hasNonNull("error") ? n.get("error").asText() : n.get("message").asText();
                    } else if (n.path("status").asText().startsWith("sha256:")) {
                        id = n.get("status").asText();
                    }
                }
            }
            if (r.getStatusCode() != 200 && error == null) {
                error = "HTTP " + r.getStatusCode();
            }
            // The digest must cover the whole file, also what dockerd did not need (tar padding).
            tar.transferTo(OutputStream.nullOutputStream());
        } catch (RuntimeException e) {
            error = e.getMessage();
        }
        if (id == null || error != null) {
            throw new IOException("cannot import " + rootfsTar + " into dockerd at " + DOCKER_HOST + ": "
                    + (error != null ? error : "no image id in its answer"));
        }
        String actual = HexFormat.of().formatHex(sha.digest());
        if (!actual.equals(rootfsSha256)) {
            removeImageQuietly(id);
            throw new IOException(rootfsTar + " has sha256 " + actual + " but its manifest says " + rootfsSha256
                    + ": the image store is damaged, rebuild " + manifest.ref());
        }
        return id;
    }

    private void removeImageQuietly(String id) {
        try {
            docker.removeImageCmd(id).withForce(true).exec();
        } catch (RuntimeException e) {
            log.accept("could not remove image " + id + ": " + e.getMessage());
        }
    }

    @Override
    public String consoleTail(String node, int lines) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            docker.logContainerCmd(containerName(node)).withStdOut(true).withStdErr(true).withTail(lines)
                    .exec(new ResultCallback.Adapter<Frame>() {
                        @Override
                        public void onNext(Frame f) {
                            out.writeBytes(f.getPayload());
                        }
                    }).awaitCompletion(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted while reading the log of " + containerName(node) + ")";
        } catch (RuntimeException e) {
            return "(no log of " + containerName(node) + ": " + e.getMessage() + ")";
        }
        // A terminal's output: CR LF line ends and systemd's colours.
        return ConsoleText.plain(out.toString(StandardCharsets.UTF_8));
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
                removeRun(docker, run.id(), log);
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
     * kiln validate --cleanup: removes the containers and networks of every run that
     * {@code isLiveRun} says is over. Returns how many were removed.
     */
    public static int cleanupStale(Predicate<String> isLiveRun, Consumer<String> log) throws IOException {
        try (DockerClient docker = client()) {
            checkDockerd(docker);
            Set<String> stale = new TreeSet<>();
            for (Container c : docker.listContainersCmd().withShowAll(true).withLabelFilter(List.of(RunLabel.DOCKER_LABEL)).exec()) {
                stale.add(c.getLabels().get(RunLabel.DOCKER_LABEL));
            }
            for (Network n : docker.listNetworksCmd().withFilter("label", List.of(RunLabel.DOCKER_LABEL)).exec()) {
                stale.add(n.getLabels().get(RunLabel.DOCKER_LABEL));
            }
            stale.removeIf(isLiveRun);
            int removed = 0;
            for (String id : stale) {
                removed += removeRun(docker, id, log);
            }
            return removed;
        }
    }

    /** Force-removes the containers, then the network, of run {@code id}; logs what fails. */
    private static int removeRun(DockerClient docker, String id, Consumer<String> log) {
        // One label filter per call: Docker ANDs several.
        String label = RunLabel.DOCKER_LABEL + "=" + id;
        int removed = 0;
        for (Container c : docker.listContainersCmd().withShowAll(true).withLabelFilter(List.of(label)).exec()) {
            String name = c.getNames().length > 0 ? c.getNames()[0].replaceFirst("^/", "") : c.getId();
            try {
                docker.removeContainerCmd(c.getId()).withForce(true).withRemoveVolumes(true).exec();
                removed++;
                log.accept("removed container " + name);
            } catch (NotFoundException gone) {
                // removed meanwhile (by a concurrent close or cleanup)
            } catch (RuntimeException e) {
                log.accept("could not remove container " + name + ": " + e.getMessage());
            }
        }
        for (Network n : docker.listNetworksCmd().withFilter("label", List.of(label)).exec()) {
            try {
                docker.removeNetworkCmd(n.getId()).exec();
                removed++;
                log.accept("removed network " + n.getName());
            } catch (NotFoundException gone) {
                // removed meanwhile
            } catch (RuntimeException e) {
                log.accept("could not remove network " + n.getName() + ": " + e.getMessage());
            }
        }
        return removed;
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
    private static void checkDockerd(DockerClient docker) throws IOException {
        String cgroups;
        try {
            cgroups = docker.infoCmd().exec().getCGroupVersion();
        } catch (RuntimeException e) {
            throw new IOException("cannot reach dockerd at " + DOCKER_HOST + ": " + e.getMessage() + " " + UNREACHABLE_HINT, e);
        }
        // Only cgroup v1 hosts are known to work: on v2, Docker before 25 mounts /sys/fs/cgroup
        // read-only in unprivileged containers, and systemd cannot mount v1 hierarchies there.
        if (cgroups != null && !cgroups.equals("1")) {
            throw new IOException("dockerd at " + DOCKER_HOST + " runs with cgroup v" + cgroups
                    + "; the container provider supports cgroup v1 hosts only so far (use --provider qemu-pxe)");
        }
    }

    private static DockerHttpClient httpClient() {
        return new ZerodepDockerHttpClient.Builder()
                .dockerHost(URI.create(DOCKER_HOST))
                .connectionTimeout(Duration.ofSeconds(5))
                // Between two bytes of an answer; the import answers only once all of rootfs.tar is in.
                .responseTimeout(Duration.ofMinutes(5))
                .build();
    }

    static DockerClient client(DockerHttpClient http) {
        return DockerClientImpl.getInstance(
                DefaultDockerClientConfig.createDefaultConfigBuilder().withDockerHost(DOCKER_HOST).build(), http);
    }

    static DockerClient client() {
        return client(httpClient());
    }
}
