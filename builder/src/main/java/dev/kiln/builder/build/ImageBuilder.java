package dev.kiln.builder.build;

import dev.kiln.builder.apt.AptIndex;
import dev.kiln.builder.artifact.DiskImageWriter;
import dev.kiln.builder.artifact.PxeBundle;
import dev.kiln.builder.artifact.RootfsArtifacts;
import dev.kiln.builder.repro.AptDirs;
import dev.kiln.builder.repro.Clamp;
import dev.kiln.builder.repro.SourceDate;
import dev.kiln.builder.spec.ImageSpec;
import dev.kiln.builder.spec.RenderedFile;
import dev.kiln.builder.spec.SpecChecker;
import dev.kiln.builder.spec.SpecException;
import dev.kiln.builder.spec.SpecLoader;
import dev.kiln.builder.spec.StorageSpec;
import dev.kiln.core.json.Json;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.Output;
import dev.kiln.core.util.Files2;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * {@code kiln build}: spec → checked spec → package index check → package layer (cached) →
 * assembled root → artifacts → manifest → atomic move into the store.
 */
public final class ImageBuilder {
    public static final String KILN_VERSION = "0.1.0";

    private final ImageStore store;
    private final Path cacheDir;
    private final Progress progress;
    private volatile boolean cancelled;

    public ImageBuilder(ImageStore store, Path cacheDir, Progress progress) {
        this.store = store;
        this.cacheDir = cacheDir;
        this.progress = progress;
    }

    /** What a dry run found: the checked spec, its rendered files and the package plan. */
    public record Plan(
            SpecLoader.Loaded loaded,
            List<RenderedFile> files,
            PackagePlan packages,
            String mirrorState,
            String layerKey,
            SourceDate sourceDate) {}

    /**
     * Stops a running build from another thread (Ctrl-C): the external tools are terminated so the
     * build fails at once, no further step starts, and the staging directory is removed.
     */
    public void cancel() {
        cancelled = true;
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroy);
    }

    /**
     * Makes SIGINT/SIGTERM cancel this builder's build and wait (up to 60 s) for it to clean up.
     * Returns the hook so the caller can remove it once the build is over.
     */
    public Thread cancelOnShutdown(Thread buildThread) {
        Thread hook = new Thread(
                () -> {
                    cancel();
                    try {
                        buildThread.join(60_000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                },
                "kiln-cancel");
        Runtime.getRuntime().addShutdownHook(hook);
        return hook;
    }

    private void checkNotCancelled() throws java.io.InterruptedIOException {
        if (cancelled) {
            throw new java.io.InterruptedIOException("build cancelled");
        }
    }

    /** A step's work; the step is marked failed when it throws. */
    @FunctionalInterface
    private interface StepBody<T> {
        T run(Progress.Step step) throws IOException, SpecException;
    }

    private <T> T step(String name, StepBody<T> body) throws IOException, SpecException {
        checkNotCancelled();
        Progress.Step s = progress.step(name);
        try {
            return body.run(s);
        } catch (IOException | SpecException | RuntimeException e) {
            s.failed();
            throw e;
        } finally {
            s.close();
        }
    }

    /**
     * Runs the steps at once, each on its own thread with its own step line. The first failure (or
     * an interrupt of the caller) interrupts the others, whose tools are then killed (Exec), and is
     * thrown once they have all stopped.
     */
    private void inParallel(Map<String, StepBody<Void>> steps) throws IOException, SpecException {
        if (steps.size() <= 1) {
            for (Map.Entry<String, StepBody<Void>> e : steps.entrySet()) {
                step(e.getKey(), e.getValue());
            }
            return;
        }
        checkNotCancelled();
        ExecutorService pool = Executors.newFixedThreadPool(steps.size(), r -> {
            Thread t = new Thread(r, "kiln-build-writer");
            t.setDaemon(true);
            return t;
        });
        List<Future<Void>> running = new ArrayList<>();
        steps.forEach((name, body) -> running.add(pool.submit(() -> step(name, body))));
        pool.shutdown();
        Throwable first = null;
        for (Future<Void> f : running) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (first == null) {
                    first = e.getCause();
                    pool.shutdownNow();
                }
            } catch (InterruptedException e) {
                pool.shutdownNow();
                Thread.currentThread().interrupt();
                first = first != null ? first : new java.io.InterruptedIOException("build interrupted");
                break;
            }
        }
        try {
            // Nothing may still write into the staging directory when it is removed.
            pool.awaitTermination(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (first instanceof IOException io) {
            throw io;
        }
        if (first instanceof SpecException se) {
            throw se;
        }
        if (first instanceof RuntimeException re) {
            throw re;
        }
        if (first != null) {
            throw new IOException(first);
        }
    }

    /** Everything but downloads, the package install and the artifacts. */
    public Plan plan(Path specFile) throws SpecException, IOException {
        return resolvePackages(checkSpec(specFile));
    }

    /** A spec that passed the static checks, before the mirror was asked anything. */
    private record Checked(SpecLoader.Loaded loaded, List<RenderedFile> files, PackagePlan packages) {}

    /** The static checks: no network, well under a second. */
    private Checked checkSpec(Path specFile) throws SpecException, IOException {
        return step("check spec " + specFile, s -> {
            SpecLoader.Loaded l = SpecLoader.load(specFile);
            return new Checked(l, SpecChecker.check(l), PackagePlan.of(l.spec()));
        });
    }

    /** Pinned versions against the mirror's index, before any rootfs work. */
    private Plan resolvePackages(Checked checked) throws SpecException, IOException {
        PackagePlan packages = checked.packages();
        return step(
                "read package index ("
                        + packages.sources().size()
                        + " source"
                        + (packages.sources().size() == 1 ? "" : "s")
                        + ")",
                s -> {
                    AptIndex index = AptIndex.read(packages.sources(), "amd64");
                    packages.verify(index, checked.loaded().problems());
                    SourceDate date;
                    try {
                        date = SourceDate.of(
                                index.newestReleaseDate(),
                                checked.loaded().spec().base().snapshot());
                    } catch (IllegalArgumentException e) {
                        throw new IOException(e.getMessage(), e);
                    }
                    return new Plan(
                            checked.loaded(),
                            checked.files(),
                            packages,
                            index.state(),
                            PackageLayer.key(checked.loaded().spec(), packages, index.state(), date),
                            date);
                });
    }

    public Path build(Path specFile) throws SpecException, IOException {
        Instant started = Instant.now();
        Checked checked = checkSpec(specFile);
        ImageRef ref = new ImageRef(
                checked.loaded().spec().name(), checked.loaded().spec().version());
        if (store.exists(ref)) {
            throw new ImageStore.VersionExistsException(ref, store.dir(ref));
        }
        Plan plan = resolvePackages(checked);
        ImageSpec spec = plan.loaded().spec();
        try (ImageStore.Staging staging = store.stage(ref)) {
            Path out = staging.dir();
            Path work = out.resolve(".work");
            Path rootfs = work.resolve("rootfs");
            Map<String, Path> downloads = download(plan.loaded(), work);
            PackageLayer.Layer layer =
                    step("package layer (mmdebstrap, " + plan.packages().pins().size() + " packages)", s -> {
                        PackageLayer.Layer l = new PackageLayer(cacheDir)
                                .obtain(spec, plan.packages(), plan.layerKey(), plan.sourceDate(), work, s);
                        s.detail((l.fromCache() ? "reused cached layer " : "built layer ")
                                + l.key().substring(0, 12));
                        return l;
                    });
            // The wall clock goes in the manifest only; inside the image, the build time is the
            // epoch.
            String builtAt = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
            SourceDate date = plan.sourceDate();
            Assembled root =
                    step("assemble root filesystem", s -> assemble(plan, layer, rootfs, downloads, date.iso()));
            step("hygiene (machine-id, host keys, apt lists, secrets)", s -> {
                Hygiene.clean(rootfs);
                List<String> bad = Hygiene.verify(rootfs);
                if (!bad.isEmpty()) {
                    throw new IOException("image hygiene check failed:\n  " + String.join("\n  ", bad));
                }
                return null;
            });
            step("clamp file times to SOURCE_DATE_EPOCH " + date.iso(), s -> {
                AptDirs.normalize(rootfs);
                s.detail(Clamp.mtimes(rootfs, date.epoch()) + " paths were newer");
                return null;
            });
            Path kernel = rootfs.resolve("boot/vmlinuz-" + root.kernelRelease());
            Path initrd = rootfs.resolve("boot/initrd.img-" + root.kernelRelease());
            String cmdline = spec.kernel().cmdline();
            // The writers only read the root: they run side by side (mksquashfs is CPU-bound, tar
            // and the disk's mkfs.ext4 mostly I/O). Each hashes what it wrote for the manifest as
            // soon as it is written, while the others still write, and the contents listing
            // (a hash per file of the root) is one more of them.
            ArtifactHashes hashes = new ArtifactHashes(out);
            Map<String, StepBody<Void>> writers = new LinkedHashMap<>();
            writers.put("write " + Contents.FILE + " (every file of the root, hashed)", s -> {
                Contents.write(rootfs, out.resolve(Contents.FILE));
                hashes.add(out.resolve(Contents.FILE));
                return null;
            });
            if (spec.wants(Output.ROOTFS_TAR)) {
                writers.put("write rootfs.tar", s -> {
                    RootfsArtifacts.tar(rootfs, out.resolve("rootfs.tar"), date.epoch());
                    hashes.add(out.resolve("rootfs.tar"));
                    return null;
                });
            }
            if (spec.wants(Output.PXE)) {
                writers.put("write pxe/ (squashfs root, kernel, initrd, boot.ipxe)", s -> {
                    Path pxe = out.resolve("pxe");
                    Files.createDirectories(pxe);
                    Path squash = pxe.resolve("rootfs.squashfs");
                    RootfsArtifacts.squashfs(rootfs, squash, date.epoch(), s);
                    PxeBundle.write(pxe, kernel, initrd, hashes.add(squash), cmdline);
                    hashes.addTree(pxe);
                    return null;
                });
            }
            if (spec.wants(Output.DISK)) {
                writers.put("write disk/disk.raw (GPT, BIOS + UEFI)", s -> {
                    Path disk = out.resolve("disk");
                    Files.createDirectories(disk);
                    DiskImageWriter.write(
                            new DiskImageWriter.Request(
                                    rootfs,
                                    kernel,
                                    initrd,
                                    cmdline,
                                    spec.name() + " " + spec.version(),
                                    disk.resolve("disk.raw"),
                                    spec.name() + ":" + spec.version(),
                                    date.epoch()),
                            s);
                    hashes.addTree(disk);
                    return null;
                });
            }
            inParallel(writers);
            Manifest manifest = step("manifest and SBOM", s -> {
                Files2.deleteRecursively(work);
                double seconds =
                        java.time.Duration.between(started, Instant.now()).toMillis() / 1000.0;
                Manifest m = ManifestAssembler.assemble(
                        plan, root.installed(), root.kernelRelease(), builtAt, seconds, hashes, downloads);
                Json.MAPPER.writeValue(out.resolve(Sbom.FILE).toFile(), Sbom.of(m));
                return m;
            });
            checkNotCancelled();
            return staging.commit(manifest);
        }
    }

    /** What assembling the root found out about it. */
    private record Assembled(String kernelRelease, Map<String, String> installed) {}

    private static Assembled assemble(
            Plan plan, PackageLayer.Layer layer, Path rootfs, Map<String, Path> downloads, String builtAt)
            throws IOException {
        ImageSpec spec = plan.loaded().spec();
        RootfsAssembler.extract(layer.tarball(), rootfs);
        RootfsAssembler root = new RootfsAssembler(rootfs);
        String kernelRelease = root.kernelRelease();
        Map<String, String> installed = DpkgStatus.installed(rootfs);
        checkPinsInstalled(plan.packages(), installed);
        installComponents(spec, downloads, root);
        for (RenderedFile f : plan.files()) {
            root.writeFile(f);
        }
        for (RenderedFile f : Builtins.files()) {
            root.writeFile(f);
        }
        root.writePlaceholderRegistry(spec.placeholders(), plan.files());
        Map<String, Object> identity = new LinkedHashMap<>();
        identity.put("name", spec.name());
        identity.put("version", spec.version());
        identity.put("specSha256", plan.loaded().sha256());
        identity.put("builtAt", builtAt);
        identity.put("kernel", kernelRelease);
        root.writeIdentity(identity);
        if (!spec.storage().isEmpty()) {
            // kiln-storage reads it on the node (the agent runs it before any service uses the disk).
            root.writeText(
                    StorageSpec.IMAGE_FILE,
                    Json.COMPACT.writeValueAsString(StorageSpec.normalized(spec.storage())) + "\n",
                    0644,
                    "root:root");
        }
        List<String> enable = new ArrayList<>(Builtins.UNITS);
        enable.addAll(spec.units().enable());
        root.units(enable, spec.units().disable());
        return new Assembled(kernelRelease, installed);
    }

    private Map<String, Path> download(SpecLoader.Loaded loaded, Path work) throws IOException, SpecException {
        ImageSpec spec = loaded.spec();
        Map<String, Path> out = new LinkedHashMap<>();
        Downloads downloads = new Downloads(cacheDir);
        for (Map.Entry<String, ImageSpec.Component> e : spec.components().entrySet()) {
            ImageSpec.Component c = e.getValue();
            if (c.url() != null) {
                String field = "components." + e.getKey();
                out.put(
                        field,
                        step(
                                "download " + e.getKey() + " " + c.version(),
                                s -> downloads.fetch(spec.mirrored(c.url()), c.sha256(), field, s)));
            }
        }
        for (int i = 0; i < spec.images().size(); i++) {
            ImageSpec.PreloadImage img = spec.images().get(i);
            String field = "images[" + i + "]";
            if (img.archive() != null) {
                out.put(field, loaded.baseDir().resolve(img.archive()).normalize());
            } else if (img.url() != null) {
                out.put(
                        field,
                        step(
                                "download image " + img.name(),
                                s -> downloads.fetch(spec.mirrored(img.url()), img.sha256(), field, s)));
            } else {
                out.put(field, step("pull image " + img.ref(), s -> pull(img.ref(), field, work)));
            }
        }
        return out;
    }

    /**
     * Pulls a registry image into an OCI archive with skopeo (the only step that needs a registry).
     */
    private static Path pull(String ref, String field, Path work) throws IOException {
        Path out = work.resolve("images").resolve(Hashing.sha256(ref) + ".tar");
        Files.createDirectories(out.getParent());
        try {
            dev.kiln.core.exec.Exec.of(
                            "skopeo", "copy", "--retry-times", "3", "docker://" + ref, "oci-archive:" + out + ":" + ref)
                    .run();
        } catch (IOException e) {
            throw new IOException(
                    field
                            + ": cannot pull "
                            + ref
                            + " (needs skopeo and access to its registry;"
                            + " or save it as an OCI archive and use 'archive'): "
                            + e.getMessage(),
                    e);
        }
        return out;
    }

    private static void installComponents(ImageSpec spec, Map<String, Path> downloads, RootfsAssembler root)
            throws IOException {
        for (Map.Entry<String, ImageSpec.Component> e : spec.components().entrySet()) {
            ImageSpec.Component c = e.getValue();
            Path file = downloads.get("components." + e.getKey());
            if (c.url() == null) {
                continue;
            }
            if (c.install() != null) {
                root.installBinary(file, c.install(), c.mode());
            } else {
                root.extractArchive(file, c.extract());
            }
        }
        for (int i = 0; i < spec.images().size(); i++) {
            root.preloadImage(
                    downloads.get("images[" + i + "]"), spec.images().get(i).name());
        }
    }

    /**
     * apt resolves dependencies freely, but what the spec pins must be exactly what got installed.
     */
    private static void checkPinsInstalled(PackagePlan plan, Map<String, String> installed) throws IOException {
        List<String> wrong = new ArrayList<>();
        for (PackagePlan.Pin p : plan.pins()) {
            String got = installed.get(p.name());
            if (got == null) {
                wrong.add(p.name() + " is not installed");
            } else if (p.version() != null && !got.equals(p.version())) {
                wrong.add(p.name() + " " + got + " installed, " + p.field() + " pins " + p.version());
            }
        }
        if (!wrong.isEmpty()) {
            throw new IOException("the package layer does not match the spec: " + String.join("; ", wrong));
        }
    }
}
