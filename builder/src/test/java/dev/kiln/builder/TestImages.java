package dev.kiln.builder;

import dev.kiln.builder.build.ImageBuilder;
import dev.kiln.core.json.Json;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Files2;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Images built once per test run and shared by every test that needs one, in every module (a cold
 * build is the most expensive thing the suite does). The store is target/kiln-test-store/RUN (RUN =
 * the Maven build's start time; stores of runs older than 6 hours are removed), or a temp directory
 * removed at exit when run outside Maven. The package-layer cache is kept between runs in
 * $KILN_TEST_CACHE (default /var/tmp/kiln-test-cache).
 */
public final class TestImages {
    private static ImageStore store;
    private static Manifest debianNode;

    private TestImages() {}

    public static synchronized ImageStore store() throws IOException {
        String shared = System.getProperty("kiln.test.store");
        if (store == null && shared != null) {
            Path dir = Path.of(shared);
            // Stores of earlier runs go; "earlier" by a margin, as another run may be going on now.
            long cutoff = System.currentTimeMillis() - 6 * 3600_000L;
            try (var runs = Files.list(Files.createDirectories(dir.getParent()))) {
                // Only run stores (named by Maven's timestamp): -Dkiln.test.store.dir may point
                // anywhere.
                for (Path old : runs.filter(p ->
                                !p.equals(dir) && p.getFileName().toString().matches("\\d{8}-\\d{6}"))
                        .toList()) {
                    if (Files.getLastModifiedTime(old).toMillis() < cutoff) {
                        Files2.deleteRecursively(old);
                    }
                }
            }
            store = new ImageStore(dir);
        }
        if (store == null) {
            Path dir = Files.createTempDirectory("kiln-test-store");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    Files2.deleteRecursively(dir);
                } catch (IOException ignored) {
                    // best effort at JVM exit
                }
            }));
            store = new ImageStore(dir);
        }
        return store;
    }

    public static Path cacheDir() {
        String env = System.getenv("KILN_TEST_CACHE");
        return Path.of(env != null && !env.isBlank() ? env : "/var/tmp/kiln-test-cache");
    }

    /** image-specs/debian-node.yaml, built as shipped. */
    public static synchronized Manifest debianNode() throws Exception {
        ImageRef ref = new ImageRef("debian-node", "1.0.0-20261127.1");
        if (debianNode == null && store().exists(ref)) {
            debianNode = store().manifest(ref); // built by an earlier module of this run
        }
        if (debianNode == null) {
            Path dir = new ImageBuilder(store(), cacheDir(), new RecordingProgress())
                    .build(TestSupport.repo("image-specs/debian-node.yaml"));
            debianNode = store().manifest(new ImageRef(
                    dir.getParent().getFileName().toString(), dir.getFileName().toString()));
        }
        return debianNode;
    }

    /**
     * A variant of image-specs/debian-node.yaml (e.g. one broken on purpose), named {@code name},
     * built once per run. {@code edit} changes the spec text; templates still resolve as shipped.
     */
    public static synchronized Manifest debianNodeVariant(String name, java.util.function.UnaryOperator<String> edit)
            throws Exception {
        String shipped = Files.readString(TestSupport.repo("image-specs/debian-node.yaml"));
        String text = edit.apply(shipped.replaceFirst("(?m)^name: debian-node$", "name: " + name));
        String version = text.replaceFirst("(?s).*?\\nversion: (\\S+).*", "$1");
        ImageRef ref = new ImageRef(name, version);
        if (!store().exists(ref)) {
            Path specDir = Files.createTempDirectory("kiln-variant");
            try {
                Path spec = specDir.resolve(name + ".yaml");
                Files.writeString(spec, text);
                new ImageBuilder(store(), cacheDir(), new RecordingProgress()).build(spec);
            } finally {
                Files2.deleteRecursively(specDir);
            }
        }
        return store().manifest(ref);
    }

    /**
     * debian-node after {@code kiln bump --security-only}'s kernel pin: the newer cloud kernel that
     * bookworm-security carries (outdated finds it, bump pins it and sets the next version), built
     * once per run. The same image SecurityKernelBumpTest validates and the rollout tests roll to.
     */
    public static synchronized Manifest kernelBumped() throws Exception {
        dev.kiln.builder.spec.SpecLoader.Loaded shipped =
                dev.kiln.builder.spec.SpecLoader.load(TestSupport.repo("image-specs/debian-node.yaml"));
        dev.kiln.builder.update.Outdated.Report report =
                dev.kiln.builder.update.Outdated.check(shipped, debianNode(), s -> {});
        dev.kiln.builder.update.Bump.Result bumped = dev.kiln.builder.update.Bump.apply(
                shipped,
                report,
                new dev.kiln.builder.update.Bump.Selection(true, false),
                null,
                java.time.LocalDate.now(java.time.ZoneOffset.UTC));
        if (!bumped.changed()) {
            throw new IllegalStateException("bookworm-security carries no newer cloud kernel than the shipped pin");
        }
        return debianNodeVariant("debian-node", spec -> bumped.text());
    }

    /**
     * A store under {@code root} holding only the artifacts of {@code m} that {@code keep} accepts,
     * hard-linked (copied where links cannot go), with a manifest listing just those: for
     * publishing part of a version (moto keeps objects in memory) without touching the shared
     * store.
     */
    public static ImageStore partialCopy(Manifest m, java.util.function.Predicate<String> keep, Path root)
            throws IOException {
        ImageStore copy = new ImageStore(root);
        ImageRef ref = new ImageRef(m.name(), m.version());
        Path from = dirOf(m);
        Path to = copy.dir(ref);
        java.util.Map<String, Manifest.Artifact> kept = new java.util.TreeMap<>();
        for (java.util.Map.Entry<String, Manifest.Artifact> a : m.artifacts().entrySet()) {
            if (keep.test(a.getKey())) {
                Files.createDirectories(to.resolve(a.getKey()).getParent());
                try {
                    Files.createLink(to.resolve(a.getKey()), from.resolve(a.getKey()));
                } catch (IOException | UnsupportedOperationException otherFilesystem) {
                    Files.copy(from.resolve(a.getKey()), to.resolve(a.getKey()));
                }
                kept.put(a.getKey(), a.getValue());
            }
        }
        java.util.Map<String, Object> json = Json.MAPPER.convertValue(
                m,
                Json.MAPPER
                        .getTypeFactory()
                        .constructMapType(java.util.LinkedHashMap.class, String.class, Object.class));
        json.put("artifacts", kept);
        Json.MAPPER.writeValue(to.resolve(ImageStore.MANIFEST).toFile(), json);
        return copy;
    }

    public static Path dirOf(Manifest m) throws IOException {
        return store().dir(new ImageRef(m.name(), m.version()));
    }

    /** Keeps every step name and detail line, so tests can tell e.g. a cache hit from a rebuild. */
    public static final class RecordingProgress implements Progress {
        public final List<String> lines = new CopyOnWriteArrayList<>();

        @Override
        public Step step(String name) {
            lines.add("step: " + name);
            return new Step() {
                @Override
                public void detail(String text) {
                    lines.add(name + ": " + text);
                }

                @Override
                public void fraction(double done) {}

                @Override
                public void failed() {
                    lines.add("failed: " + name);
                }

                @Override
                public void close() {}
            };
        }
    }
}
