package dev.kiln.builder.repro;

import dev.kiln.builder.build.Contents;
import dev.kiln.builder.build.ImageBuilder;
import dev.kiln.builder.spec.RenderedFile;
import dev.kiln.builder.spec.SpecException;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Files2;
import dev.kiln.core.util.Hashing;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.zip.GZIPInputStream;

/**
 * kiln rebuild-check: builds a stored version again from the spec and mirror state its manifest
 * records, into a scratch store with its own package cache (so the package layer is made again
 * too), and compares every artifact with the stored one.
 *
 * <p>Before the (long) build it checks what would make the comparison pointless: a spec whose
 * sha256 is not the recorded one, a mirror that has moved on, a file that renders differently now.
 */
public final class RebuildCheck {
    /**
     * Rebuilt artifacts are compared in this order, so the first difference is the most telling.
     */
    private static final List<String> ORDER = List.of(
            Contents.FILE,
            "pxe/boot.ipxe",
            "pxe/initrd.img",
            "pxe/vmlinuz",
            "rootfs.tar",
            "pxe/rootfs.squashfs",
            "disk/disk.raw");

    /** Lines of diffoscope's or the contents listing's output shown for the first difference. */
    static final int DETAIL_LINES = 60;

    private RebuildCheck() {}

    /** One artifact that is not the same: missing on one side, or other bytes. */
    public record Difference(String artifact, String recorded, String rebuilt) {
        public String render() {
            return artifact + ": recorded " + short16(recorded) + ", rebuilt " + short16(rebuilt);
        }

        private static String short16(String sha) {
            return sha == null ? "(none)" : "sha256:" + sha.substring(0, 16);
        }
    }

    /**
     * @param detail what diffoscope (or the contents listing) says about the first difference
     * @param kept the scratch store, when asked to keep it (else removed)
     */
    public record Result(ImageRef ref, int artifacts, List<Difference> differences, String detail, Path kept) {
        public boolean identical() {
            return differences.isEmpty();
        }
    }

    /** What the caller may set; null fields take the defaults. */
    public record Options(Path spec, Path cache, Path scratchParent, boolean keep) {}

    public static Result run(ImageStore store, ImageRef ref, Options o, Progress progress)
            throws IOException, SpecException {
        Manifest recorded = store.manifest(ref);
        Path spec = o.spec();
        if (spec == null) {
            if (recorded.reproducible() == null || recorded.reproducible().specFile() == null) {
                throw new IOException(ref + " was built by a kiln that did not record its spec file; pass --spec");
            }
            spec = Path.of(recorded.reproducible().specFile());
        }
        if (!Files.isRegularFile(spec)) {
            throw new IOException(
                    "spec " + spec + " (what " + ref + " was built from) is not there any more; pass --spec");
        }
        String sha = Hashing.sha256(Files.readString(spec));
        if (!sha.equals(recorded.specSha256())) {
            throw new IOException("spec "
                    + spec
                    + " has sha256 "
                    + sha.substring(0, 16)
                    + "..., but "
                    + ref
                    + " was built from "
                    + recorded.specSha256().substring(0, 16)
                    + "... (the spec changed since);"
                    + " pass --spec with the spec it was built from");
        }
        Path parent =
                o.scratchParent() != null ? o.scratchParent() : store.root().resolve(".rebuild-check");
        Files.createDirectories(parent);
        Path scratch = Files.createTempDirectory(parent, ref.name() + "_" + ref.version() + ".");
        ImageStore rebuiltStore = new ImageStore(scratch.resolve("store"));
        Path cache = o.cache() != null ? o.cache() : scratch.resolve("cache");
        ImageBuilder builder = new ImageBuilder(rebuiltStore, cache, progress);
        // Ctrl-C: stop the build first (its tools, its mounts), then remove the scratch store.
        java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
        Thread cleanup = new Thread(
                () -> {
                    builder.cancel();
                    try {
                        finished.await(60, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    deleteQuietly(scratch);
                },
                "kiln-rebuild-check-cleanup");
        boolean keep = false;
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            checkInputs(builder.plan(spec), recorded);
            builder.build(spec);
            Manifest rebuilt = rebuiltStore.manifest(ref);
            List<Difference> diffs = compare(recorded, rebuilt);
            String detail = null;
            if (!diffs.isEmpty()) {
                try (Progress.Step s = progress.step("explain " + diffs.get(0).artifact())) {
                    detail = explain(
                            store.dir(ref), rebuiltStore.dir(ref), diffs.get(0).artifact(), s);
                }
            }
            keep = o.keep();
            return new Result(ref, recorded.artifacts().size(), diffs, detail, keep ? scratch : null);
        } finally {
            if (!keep) {
                deleteQuietly(scratch);
            }
            finished.countDown();
            removeHook(cleanup);
        }
    }

    /**
     * The inputs as they are now against what the build recorded: no point building if they moved.
     */
    static void checkInputs(ImageBuilder.Plan plan, Manifest recorded) throws IOException {
        String was = recorded.base() == null ? null : recorded.base().mirrorState();
        if (!Objects.equals(plan.mirrorState(), was)) {
            throw new IOException("the mirror has changed since "
                    + recorded.ref()
                    + " was built (its Release files are"
                    + " not those of the build), so a rebuild would install other packages; a version stays rebuildable"
                    + " when its spec pins base.snapshot (snapshot.debian.org)");
        }
        if (recorded.reproducible() != null
                && plan.sourceDate().epoch() != recorded.reproducible().sourceDateEpoch()) {
            throw new IOException("SOURCE_DATE_EPOCH would be "
                    + plan.sourceDate().epoch()
                    + ", the build had "
                    + recorded.reproducible().sourceDateEpoch());
        }
        Map<String, String> before = new LinkedHashMap<>();
        if (recorded.files() != null) {
            recorded.files().forEach(f -> before.put(f.path(), f.sha256()));
        }
        for (RenderedFile f : plan.files()) {
            String now = Hashing.sha256(f.content());
            if (before.containsKey(f.path()) && !before.get(f.path()).equals(now)) {
                throw new IOException(f.path()
                        + " renders differently now than when "
                        + recorded.ref()
                        + " was built (a template or an included file changed since)");
            }
        }
    }

    static List<Difference> compare(Manifest recorded, Manifest rebuilt) {
        TreeSet<String> names = new TreeSet<>(recorded.artifacts().keySet());
        names.addAll(rebuilt.artifacts().keySet());
        List<String> ordered = new ArrayList<>();
        ORDER.stream().filter(names::contains).forEach(ordered::add);
        names.stream().filter(n -> !ordered.contains(n)).forEach(ordered::add);
        List<Difference> out = new ArrayList<>();
        for (String n : ordered) {
            Manifest.Artifact a = recorded.artifacts().get(n);
            Manifest.Artifact b = rebuilt.artifacts().get(n);
            if (a == null || b == null || !a.sha256().equals(b.sha256())) {
                out.add(new Difference(n, a == null ? null : a.sha256(), b == null ? null : b.sha256()));
            }
        }
        return out;
    }

    /** diffoscope's account of one artifact when it is installed, else kiln's own. */
    static String explain(Path recordedDir, Path rebuiltDir, String artifact, Progress.Step step) throws IOException {
        Path a = recordedDir.resolve(artifact);
        Path b = rebuiltDir.resolve(artifact);
        if (!Files.isRegularFile(a) || !Files.isRegularFile(b)) {
            return artifact + " exists in only one of the two builds";
        }
        if (onPath("diffoscope")) {
            step.detail("diffoscope " + artifact);
            // diffoscope exits 1 when the files differ; a timeout keeps a 1 GiB disk from taking
            // all day.
            Exec.Result r = Exec.of(
                            "timeout",
                            "600",
                            "diffoscope",
                            "--no-progress",
                            "--text",
                            "-",
                            "--max-text-report-size",
                            "200000",
                            a.toString(),
                            b.toString())
                    .runAllowingFailure();
            if (r.exitCode() == 0 || r.exitCode() == 1) {
                return firstLines(
                        r.output()
                                .replace(recordedDir.toString(), "recorded")
                                .replace(rebuiltDir.toString(), "rebuilt"),
                        DETAIL_LINES);
            }
            step.detail("diffoscope failed (exit " + r.exitCode() + "), using the contents listing");
        }
        return contentsDifference(recordedDir, rebuiltDir, artifact, a, b);
    }

    /**
     * Without diffoscope: the first line where the contents listings differ, else the first
     * differing byte.
     */
    static String contentsDifference(Path recordedDir, Path rebuiltDir, String artifact, Path a, Path b)
            throws IOException {
        Path ca = recordedDir.resolve(Contents.FILE);
        Path cb = rebuiltDir.resolve(Contents.FILE);
        StringBuilder out = new StringBuilder();
        if (Files.isRegularFile(ca) && Files.isRegularFile(cb)) {
            List<String> la = gunzipLines(ca);
            List<String> lb = gunzipLines(cb);
            int n = 0;
            for (int i = 0; i < Math.max(la.size(), lb.size()) && n < DETAIL_LINES / 2; i++) {
                String x = i < la.size() ? la.get(i) : null;
                String y = i < lb.size() ? lb.get(i) : null;
                if (!Objects.equals(x, y)) {
                    out.append("- ")
                            .append(x == null ? "(end)" : x)
                            .append('\n')
                            .append("+ ")
                            .append(y == null ? "(end)" : y)
                            .append('\n');
                    n++;
                }
            }
            if (n > 0) {
                return "the root file systems differ (contents listing, - recorded, + rebuilt):\n" + out;
            }
        }
        long at = Files.mismatch(a, b);
        return "the root file systems list the same contents; "
                + artifact
                + " first differs at byte "
                + at
                + " (install diffoscope for a closer look)";
    }

    private static List<String> gunzipLines(Path gz) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz));
                BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            return r.lines().toList();
        }
    }

    private static String firstLines(String text, int n) {
        String[] lines = text.split("\n", -1);
        if (lines.length <= n) {
            return text.strip();
        }
        return String.join("\n", java.util.Arrays.copyOf(lines, n)) + "\n... (" + (lines.length - n) + " more lines)";
    }

    static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the JVM is exiting; the hook runs
        }
    }

    private static void deleteQuietly(Path dir) {
        try {
            Files2.deleteRecursively(dir);
        } catch (IOException ignored) {
            // best effort
        }
    }
}
