package dev.kiln.validator;

import dev.kiln.core.node.AgentStep;
import dev.kiln.core.node.ProviderKind;
import dev.kiln.core.node.Role;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ValidationRecord;
import dev.kiln.core.util.Hashing;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.InventoryException;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.validator.ValidationReport.Check;
import dev.kiln.validator.ValidationReport.Failure;
import dev.kiln.validator.provider.NodeProvider;
import dev.kiln.validator.provider.NodeProvider.NodeBoot;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * kiln validate: boots a throwaway cluster from one image version, hands its nodes generated
 * metadata from an in-process kiln serve, waits for every node to bootstrap and run the spec's
 * checks, writes the report, records the verdict beside the manifest, and always tears down.
 *
 * <p>Nodes report through kiln serve only (steps to /status, check results to /checks): no SSH, no
 * console scraping needed, and the same path works for VMs and containers.
 */
public final class Validator {
    /** The --provider names, in order of preference. */
    public static final List<String> PROVIDERS = ProviderKind.wireNames();

    /**
     * After the first node fails, how long the others get to report (the init-master's own
     * failure).
     */
    private static final Duration FAIL_GRACE = Duration.ofSeconds(5);

    private static final int CONSOLE_LINES = 30;

    /**
     * @param images where the version is: a local store, or S3 (fetched into its local cache first)
     * @param provider qemu-pxe, qemu-disk or container; null picks one from the image's outputs
     * @param timeout for the whole cluster to bootstrap and check; null picks one per provider
     * @param reportDir where report.json and junit.xml go; null means kiln-reports/NAME-VERSION-RUN
     * @param tmpRoot where run directories go (their names carry the run label)
     * @param out step lines with timings, and the summary
     * @param diskBytes qemu-disk only: each node's disk size (a copy-on-write overlay over
     *     disk.raw, so the node grows its root into it, as on an AMI with a bigger volume); null
     *     for the image's own size
     */
    /**
     * @param firmwarePxe qemu-pxe: boot through UEFI firmware PXE and kiln's ProxyDHCP, as real
     *     servers do
     */
    public record Request(
            ImageSource images,
            ImageRef image,
            String provider,
            int masters,
            int workers,
            Duration timeout,
            Path reportDir,
            Path tmpRoot,
            Consumer<String> out,
            Long diskBytes,
            boolean firmwarePxe) {
        public Request(
                ImageSource images,
                ImageRef image,
                String provider,
                int masters,
                int workers,
                Duration timeout,
                Path reportDir,
                Path tmpRoot,
                Consumer<String> out) {
            this(images, image, provider, masters, workers, timeout, reportDir, tmpRoot, out, null, false);
        }

        public Request(
                ImageSource images,
                ImageRef image,
                String provider,
                int masters,
                int workers,
                Duration timeout,
                Path reportDir,
                Path tmpRoot,
                Consumer<String> out,
                Long diskBytes) {
            this(images, image, provider, masters, workers, timeout, reportDir, tmpRoot, out, diskBytes, false);
        }
    }

    private final Request req;
    private final long t0 = System.nanoTime();
    private final Map<String, Map<String, Double>> reached = new ConcurrentHashMap<>();

    /** Per node, what its disk's root did at boot (the agent's "booted" report says it). */
    private final Map<String, String> roots = new ConcurrentHashMap<>();

    private volatile long nodesStartedAt;
    private RunLabel run;
    private NodeProvider provider;
    private KilnServer server;
    private boolean tornDown;

    private Validator(Request req) {
        this.req = req;
    }

    /**
     * Runs one validation; the report says whether it passed. Throws only when the run could not
     * even start (unknown image, missing artifact, provider unavailable): nothing is left behind
     * either way.
     */
    public static ValidationReport run(Request req) throws IOException, InterruptedException {
        Validator v = new Validator(req);
        Thread hook = new Thread(
                () -> {
                    v.say("interrupted: tearing down");
                    v.teardown();
                },
                "kiln-validate-teardown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return v.validate();
        } finally {
            v.teardown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or ran; teardown is idempotent
            }
        }
    }

    /**
     * Removes what crashed runs left behind (containers, networks, namespaces, processes, run
     * dirs).
     */
    public static int cleanup(Path tmpRoot, Consumer<String> out) {
        return Providers.cleanupStale(tmpRoot, out);
    }

    private ValidationReport validate() throws IOException, InterruptedException {
        ImageStore store = localCopy();
        Manifest manifest = store.manifest(req.image());
        Path versionDir = store.dir(req.image());
        String providerName = req.provider() != null ? req.provider() : Providers.defaultFor(manifest);
        Providers.checkUsable(providerName, manifest, versionDir);
        if (req.diskBytes() != null && Providers.kind(providerName) != ProviderKind.QEMU_DISK) {
            throw new IllegalArgumentException("--disk-size is for --provider "
                    + ProviderKind.QEMU_DISK
                    + " only (this run uses "
                    + providerName
                    + ")");
        }
        if (req.firmwarePxe() && Providers.kind(providerName) != ProviderKind.QEMU_PXE) {
            throw new IllegalArgumentException("--pxe-boot firmware is for --provider "
                    + ProviderKind.QEMU_PXE
                    + " only (this run uses "
                    + providerName
                    + ")");
        }
        if (req.masters() < 1 || req.workers() < 0) {
            throw new IllegalArgumentException("--masters must be at least 1 and --workers at least 0 (got "
                    + req.masters()
                    + " and "
                    + req.workers()
                    + ")");
        }
        Duration timeout = req.timeout() != null ? req.timeout() : Providers.defaultTimeout(providerName);
        Instant startedAt = Instant.now();

        synchronized (this) {
            run = RunLabel.create(req.tmpRoot());
            provider = Providers.create(
                    providerName, run, versionDir, manifest, this::say, req.diskBytes(), req.firmwarePxe());
        }
        say("run "
                + run.id()
                + ": validating "
                + manifest.ref()
                + " on "
                + providerName
                + " with "
                + req.masters()
                + " master(s) + "
                + req.workers()
                + " worker(s), timeout "
                + timeout.toSeconds()
                + " s");
        CheckPlan plan = new CheckPlan(manifest, provider.sharesHostKernel(), providerName);

        NodeProvider.Lan lan = provider.createNetwork(req.masters() + req.workers());
        say("private network ready; kiln serve listens on " + lan.serverAddress());
        List<NodeBoot> nodes = plannedNodes(lan);
        Path inventory = writeInventory(manifest, nodes, plan, timeout);
        synchronized (this) {
            if (tornDown) {
                throw new InterruptedException("interrupted");
            }
            try {
                server = KilnServer.start(new KilnServer.Options(
                        inventory,
                        store,
                        lan.serverAddress(),
                        0,
                        null,
                        run.dir().resolve("serve-state"),
                        1000));
            } catch (InventoryException e) {
                throw new IOException("generated inventory " + inventory + " is invalid: " + e.getMessage(), e);
            }
        }
        Map<String, NodeBoot> byMac = new LinkedHashMap<>();
        List<NodeBoot> withTokens = new ArrayList<>();
        for (NodeBoot n : nodes) {
            NodeBoot b = new NodeBoot(
                    n.name(), n.role(), n.mac(), n.address(), server.token(n.mac()), server.metadataOf(n.mac()));
            withTokens.add(b);
            byMac.put(b.mac(), b);
            reached.put(b.name(), new ConcurrentHashMap<>());
        }
        server.onStatus((mac, s) -> onReport(byMac.get(mac), s));
        nodesStartedAt = System.nanoTime();
        provider.start(withTokens, server.publicUrl());
        say("started " + nodes.size() + " node(s); kiln serve at " + server.publicUrl());

        boolean timedOut = awaitVerdict(withTokens, timeout);
        ValidationReport report = report(manifest, providerName, plan, withTokens, startedAt, timedOut, timeout);
        ReportWriter.Written written = ReportWriter.write(report, reportDir(manifest));
        // The manifest's sha256 ties the verdict to this exact build: kiln promote's "validated"
        // gate checks it.
        ValidationRecord.append(
                versionDir,
                report.image(),
                new ValidationRecord.Run(
                        report.runId(),
                        report.result(),
                        report.provider(),
                        report.masters(),
                        report.workers(),
                        report.startedAt(),
                        report.seconds(),
                        written.jsonSha256(),
                        Hashing.sha256(versionDir.resolve(ImageStore.MANIFEST))),
                written.json());
        for (String line : ReportWriter.summary(report)) {
            say(line);
        }
        say("report: " + written.json() + ", " + written.junit());
        return report;
    }

    /** The store the version is in locally; a version in S3 is fetched and checked first. */
    private ImageStore localCopy() throws IOException {
        if (!req.images().exists(req.image())) {
            throw new IllegalArgumentException(
                    "image " + req.image() + " is not in " + req.images().notFound(req.image()));
        }
        req.images().sync(List.of(req.image()));
        String unavailable = req.images().unavailable(req.image());
        if (unavailable != null) {
            throw new IOException(unavailable);
        }
        return req.images().store();
    }

    /** m1..mN then w1..wN; MACs carry the run id, so two runs never share one. */
    private List<NodeBoot> plannedNodes(NodeProvider.Lan lan) {
        return plannedNodes(run.id(), req.masters(), req.workers(), lan.nodeAddresses());
    }

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

    private Path writeInventory(Manifest manifest, List<NodeBoot> nodes, CheckPlan plan, Duration timeout)
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

    private void onReport(NodeBoot node, NodeStatus s) {
        if (node == null || nodesStartedAt == 0) {
            return;
        }
        double at = (System.nanoTime() - nodesStartedAt) / 1e9;
        String step = s.checks() != null ? "checked" : s.step();
        if (NodeStatus.IPXE.equals(step)) {
            return;
        }
        String root = "booted".equals(step) ? RootReport.of(s.detail()) : null;
        if (root != null) {
            roots.putIfAbsent(node.name(), root);
        }
        if (reached.get(node.name()).putIfAbsent(step, round(at)) == null) {
            String detail = AgentStep.FAILED.is(step)
                    ? " (" + s.phase() + "): " + s.detail()
                    : "checked".equals(step)
                            ? " " + ReportWriter.tally(s.checks())
                            : root != null ? " root " + root : "";
            say(String.format(Locale.ROOT, "%-4s %-17s +%.1fs%s", node.name(), step, at, detail));
        }
    }

    /**
     * Waits until every node sent check results, or one failed (plus a short grace for the rest to
     * say why), or the deadline passed. True if the deadline passed.
     */
    private boolean awaitVerdict(List<NodeBoot> nodes, Duration timeout) throws InterruptedException {
        long deadline = nodesStartedAt + timeout.toNanos();
        long failedAt = 0;
        while (true) {
            boolean allDone = true;
            for (NodeBoot n : nodes) {
                NodeStatus s = server.status(n.mac());
                if (s != null && AgentStep.FAILED.is(s.step())) {
                    failedAt = failedAt == 0 ? System.nanoTime() : failedAt;
                } else if (s == null || s.checks() == null) {
                    allDone = false;
                }
            }
            long now = System.nanoTime();
            if (allDone || (failedAt != 0 && now - failedAt > FAIL_GRACE.toNanos())) {
                return false;
            }
            if (now > deadline) {
                return true;
            }
            Thread.sleep(250);
        }
    }

    private ValidationReport report(
            Manifest manifest,
            String providerName,
            CheckPlan plan,
            List<NodeBoot> nodes,
            Instant startedAt,
            boolean timedOut,
            Duration timeout) {
        Map<String, List<Map<String, Object>>> reported = new LinkedHashMap<>();
        for (NodeBoot n : nodes) {
            NodeStatus s = server.status(n.mac());
            reported.put(n.name(), s == null ? null : s.checks());
        }
        Map<String, String> shared = CheckPlan.sharedIdentities(reported);
        List<ValidationReport.Node> rows = new ArrayList<>();
        List<Check> cluster = new ArrayList<>();
        String initMaster = nodes.get(0).name();
        for (NodeBoot n : nodes) {
            NodeStatus s = server.status(n.mac());
            Failure failure = failureOf(s, timedOut, timeout);
            List<Check> checks = new ArrayList<>();
            if (s != null && s.checks() != null) {
                for (Check c : plan.nodeResults(n.name(), s.checks())) {
                    if (CheckPlan.HYGIENE.equals(c.check()) && shared.containsKey(n.name())) {
                        c = new Check(c.check(), Check.FAIL, shared.get(n.name()), n.name());
                    }
                    checks.add(c);
                }
                if (n.name().equals(initMaster)) {
                    cluster.addAll(plan.clusterResults(initMaster, s.checks()));
                }
            }
            List<String> console = failure != null || checks.stream().anyMatch(c -> Check.FAIL.equals(c.status()))
                    ? List.of(provider.consoleTail(n.name(), CONSOLE_LINES).split("\r?\n"))
                    : null;
            rows.add(new ValidationReport.Node(
                    n.name(),
                    roleOf(n, nodes),
                    n.address(),
                    n.mac(),
                    s == null ? null : s.kernel(),
                    new LinkedHashMap<>(reached.get(n.name())),
                    failure,
                    checks,
                    console,
                    roots.get(n.name())));
        }
        boolean nodesOk = rows.stream().allMatch(ValidationReport.Node::passed);
        boolean clusterOk = cluster.stream().noneMatch(c -> Check.FAIL.equals(c.status()))
                && (!plan.hasClusterChecks() || !cluster.isEmpty());
        String error = null;
        if (!nodesOk || !clusterOk) {
            error = firstError(rows, cluster);
        }
        return new ValidationReport(
                1,
                manifest.ref(),
                manifest.specSha256(),
                providerName,
                req.masters(),
                req.workers(),
                run.id(),
                startedAt.toString(),
                round((System.nanoTime() - t0) / 1e9),
                nodesOk && clusterOk ? ValidationReport.VALIDATED : ValidationReport.FAILED,
                error,
                plan.notes(),
                rows,
                cluster);
    }

    /** The bootstrap role a node got: the first master creates the cluster. */
    private static String roleOf(NodeBoot n, List<NodeBoot> all) {
        if (!"master".equals(n.role())) {
            return Role.JOIN_WORKER.wire();
        }
        return (all.get(0) == n ? Role.INIT_MASTER : Role.JOIN_MASTER).wire();
    }

    private static Failure failureOf(NodeStatus s, boolean timedOut, Duration timeout) {
        if (s != null && AgentStep.FAILED.is(s.step())) {
            return new Failure(s.phase() != null ? s.phase() : "unknown", s.detail());
        }
        if (s != null && s.checks() != null) {
            return null;
        }
        String last = s == null ? null : s.step();
        String stuck = last == null || NodeStatus.IPXE.equals(last)
                ? "boot"
                : AgentStep.parse(last).map(AgentStep::nextPhase).orElse(last);
        String why = timedOut
                ? "no progress past '" + (last == null ? "power-on" : last) + "' within " + timeout.toSeconds() + " s"
                : "stopped waiting after another node failed; last step '" + (last == null ? "power-on" : last) + "'";
        return new Failure(stuck, why + (s != null && s.detail() != null ? " (" + s.detail() + ")" : ""));
    }

    private static String firstError(List<ValidationReport.Node> rows, List<Check> cluster) {
        for (ValidationReport.Node n : rows) {
            if (n.failure() != null && !n.failure().error().startsWith("stopped waiting")) {
                return n.name() + ": " + n.failure().step() + " failed: "
                        + n.failure().error();
            }
        }
        for (ValidationReport.Node n : rows) {
            for (Check c : n.checks()) {
                if (Check.FAIL.equals(c.status())) {
                    return n.name() + ": check " + c.check() + " failed: " + c.detail();
                }
            }
        }
        for (Check c : cluster) {
            if (Check.FAIL.equals(c.status())) {
                return "cluster check " + c.check() + " (on " + c.node() + ") failed: " + c.detail();
            }
        }
        for (ValidationReport.Node n : rows) {
            if (n.failure() != null) {
                return n.name() + ": " + n.failure().step() + " failed: "
                        + n.failure().error();
            }
        }
        return "the init-master sent no cluster check results";
    }

    private Path reportDir(Manifest manifest) {
        return req.reportDir() != null
                ? req.reportDir()
                : Path.of("kiln-reports", manifest.name() + "-" + manifest.version() + "-" + run.id());
    }

    private void say(String line) {
        req.out().accept(String.format(Locale.ROOT, "[%6.1fs] %s", (System.nanoTime() - t0) / 1e9, line));
    }

    private static double round(double seconds) {
        return Math.round(seconds * 10) / 10.0;
    }

    /** Nodes first (they use the server), then the server, then the run's files. Idempotent. */
    private synchronized void teardown() {
        if (tornDown) {
            return;
        }
        tornDown = true;
        long t = System.nanoTime();
        if (provider != null) {
            provider.close();
        }
        if (server != null) {
            server.close();
        }
        if (run != null) {
            run.deleteDir();
            say(String.format(Locale.ROOT, "torn down run %s in %.1f s", run.id(), (System.nanoTime() - t) / 1e9));
        }
    }
}
