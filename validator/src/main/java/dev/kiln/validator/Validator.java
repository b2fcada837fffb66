package dev.kiln.validator;

import dev.kiln.core.node.ProviderKind;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ValidationRecord;
import dev.kiln.core.util.Hashing;
import dev.kiln.fleet.InventoryException;
import dev.kiln.fleet.KilnServer;
import dev.kiln.validator.provider.DataDisks;
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
            boolean firmwarePxe,
            DataDisks dataDisks) {
        public Request {
            dataDisks = dataDisks == null ? DataDisks.NONE : dataDisks;
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
                Long diskBytes,
                boolean firmwarePxe) {
            this(
                    images,
                    image,
                    provider,
                    masters,
                    workers,
                    timeout,
                    reportDir,
                    tmpRoot,
                    out,
                    diskBytes,
                    firmwarePxe,
                    DataDisks.NONE);
        }

        /** The same run with these data disks (kiln validate --data-disk). */
        public Request withDataDisks(DataDisks disks) {
            return new Request(
                    images,
                    image,
                    provider,
                    masters,
                    workers,
                    timeout,
                    reportDir,
                    tmpRoot,
                    out,
                    diskBytes,
                    firmwarePxe,
                    disks);
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
    private final NodeProgress progress = new NodeProgress(this::say);
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
                    providerName,
                    run,
                    versionDir,
                    manifest,
                    this::say,
                    req.diskBytes(),
                    req.firmwarePxe(),
                    req.dataDisks());
        }
        if (!req.dataDisks().isEmpty() && provider.sharesHostKernel()) {
            say("--data-disk: " + providerName + " nodes have no block devices of their own; their storage: is"
                    + " skipped and each says so");
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
        Path inventory = ValidationInventory.write(run, manifest, nodes, plan, timeout);
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
            progress.track(b.name());
        }
        server.onStatus((mac, s) -> progress.onReport(byMac.get(mac), s));
        progress.nodesStarting();
        provider.start(withTokens, server.publicUrl());
        say("started " + nodes.size() + " node(s); kiln serve at " + server.publicUrl());

        boolean timedOut = progress.awaitVerdict(server, withTokens, timeout);
        ValidationReport report = new ReportAssembler(server, provider, progress)
                .assemble(
                        manifest,
                        providerName,
                        plan,
                        withTokens,
                        req.masters(),
                        req.workers(),
                        run.id(),
                        startedAt,
                        t0,
                        timedOut,
                        timeout);
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

    /** See {@link ValidationInventory#plannedNodes}. */
    static List<NodeBoot> plannedNodes(String runId, int masters, int workers, List<String> addresses) {
        return ValidationInventory.plannedNodes(runId, masters, workers, addresses);
    }

    private Path reportDir(Manifest manifest) {
        return req.reportDir() != null
                ? req.reportDir()
                : Path.of("kiln-reports", manifest.name() + "-" + manifest.version() + "-" + run.id());
    }

    private void say(String line) {
        req.out().accept(String.format(Locale.ROOT, "[%6.1fs] %s", (System.nanoTime() - t0) / 1e9, line));
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
