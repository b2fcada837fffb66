package dev.kiln.core.store;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.zip.GZIPInputStream;

/** The differences between two image versions, from their manifests and contents listings. */
public record ImageDiff(
        Manifest from,
        Manifest to,
        List<Change> kernel,
        List<Change> components,
        List<Change> packages,
        List<Change> declaredFiles,
        List<Change> contents) {

    /** One difference; {@code before} or {@code after} is null for an addition or removal. */
    public record Change(String what, String before, String after) {
        public String render() {
            if (before == null) {
                return "+ " + what + " " + after;
            }
            if (after == null) {
                return "- " + what + " " + before;
            }
            return "~ " + what + " " + before + " -> " + after;
        }
    }

    public static ImageDiff between(ImageStore store, ImageRef a, ImageRef b) throws IOException {
        Manifest from = store.manifest(a);
        Manifest to = store.manifest(b);
        List<Change> kernel = new ArrayList<>();
        change(
                kernel,
                "kernel package",
                from.kernel().packageName(),
                to.kernel().packageName());
        change(kernel, "kernel version", from.kernel().version(), to.kernel().version());
        change(kernel, "kernel release", from.kernel().release(), to.kernel().release());
        change(kernel, "kernel cmdline", from.kernel().cmdline(), to.kernel().cmdline());
        List<Change> components = compare(versions(from.components()), versions(to.components()));
        List<Change> packages = compare(from.packages(), to.packages());
        Map<String, String> fa = new TreeMap<>();
        from.files().forEach(f -> fa.put(f.path(), f.sha256().substring(0, 12) + " " + f.mode()));
        Map<String, String> fb = new TreeMap<>();
        to.files().forEach(f -> fb.put(f.path(), f.sha256().substring(0, 12) + " " + f.mode()));
        List<Change> declared = compare(fa, fb);
        List<Change> contents = compare(contents(store.dir(a)), contents(store.dir(b)));
        return new ImageDiff(from, to, kernel, components, packages, declared, contents);
    }

    private static Map<String, String> versions(Map<String, Manifest.Component> components) {
        Map<String, String> out = new TreeMap<>();
        components.forEach((n, c) -> out.put(n, c.packageVersion() != null ? c.packageVersion() : c.version()));
        return out;
    }

    private static void change(List<Change> out, String what, String a, String b) {
        if (!Objects.equals(a, b)) {
            out.add(new Change(what, a, b));
        }
    }

    private static List<Change> compare(Map<String, String> a, Map<String, String> b) {
        List<Change> out = new ArrayList<>();
        TreeSet<String> keys = new TreeSet<>(a.keySet());
        keys.addAll(b.keySet());
        for (String k : keys) {
            change(out, k, a.get(k), b.get(k));
        }
        return out;
    }

    /** path → "type mode owner digest" from contents.tsv.gz; empty when the image has none. */
    private static Map<String, String> contents(Path imageDir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        Path f = imageDir.resolve("contents.tsv.gz");
        if (!Files.isRegularFile(f)) {
            return out;
        }
        try (BufferedReader r = new BufferedReader(
                new InputStreamReader(new GZIPInputStream(Files.newInputStream(f)), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                String[] c = line.split("\t");
                if (c.length >= 6) {
                    String digest = c[5].length() == 64 ? c[5].substring(0, 12) : c[5];
                    out.put(c[0], c[1] + " " + c[2] + " " + c[3] + " " + digest);
                }
            }
        }
        return out;
    }

    public boolean isEmpty() {
        return kernel.isEmpty()
                && components.isEmpty()
                && packages.isEmpty()
                && declaredFiles.isEmpty()
                && contents.isEmpty();
    }

    public String render(int maxPaths) {
        StringBuilder sb = new StringBuilder();
        sb.append("diff ").append(from.ref()).append(" -> ").append(to.ref()).append('\n');
        section(sb, "kernel", kernel, Integer.MAX_VALUE);
        section(sb, "components", components, Integer.MAX_VALUE);
        section(sb, "packages", packages, Integer.MAX_VALUE);
        section(sb, "declared files", declaredFiles, Integer.MAX_VALUE);
        long added = contents.stream().filter(c -> c.before() == null).count();
        long removed = contents.stream().filter(c -> c.after() == null).count();
        sb.append("contents: ")
                .append(added)
                .append(" added, ")
                .append(removed)
                .append(" removed, ")
                .append(contents.size() - added - removed)
                .append(" changed\n");
        contents.stream()
                .limit(maxPaths)
                .forEach(c -> sb.append("  ").append(c.render()).append('\n'));
        if (contents.size() > maxPaths) {
            sb.append("  ... ").append(contents.size() - maxPaths).append(" more (--files N shows more)\n");
        }
        if (isEmpty()) {
            sb.append("no differences\n");
        }
        return sb.toString();
    }

    private static void section(StringBuilder sb, String title, List<Change> changes, int max) {
        if (changes.isEmpty()) {
            sb.append(title).append(": unchanged\n");
            return;
        }
        sb.append(title).append(":\n");
        changes.stream()
                .limit(max)
                .forEach(c -> sb.append("  ").append(c.render()).append('\n'));
    }
}
