package dev.kiln.builder.apt;

import dev.kiln.core.util.Hashing;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The package indexes of a set of apt sources, read straight from the mirror. Used to refuse a
 * pinned version the mirror does not have before any rootfs work starts, and to key the package
 * layer cache on the mirror's state (its Release files).
 */
public final class AptIndex {
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(15))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();

    private final Map<String, Set<String>> versions;
    private final String state;
    private final java.time.Instant newestReleaseDate;

    private AptIndex(Map<String, Set<String>> versions, String state, java.time.Instant newestReleaseDate) {
        this.versions = versions;
        this.state = state;
        this.newestReleaseDate = newestReleaseDate;
    }

    /**
     * One apt source: "deb URL SUITE COMPONENTS...". A suite ending in '/' is a flat repository.
     */
    public record Source(String url, String suite, List<String> components) {
        public String debLine() {
            return "deb " + url + " " + suite + (isFlat() ? "" : " " + String.join(" ", components));
        }

        boolean isFlat() {
            return suite.endsWith("/");
        }

        String base() {
            String u = url.endsWith("/") ? url : url + "/";
            return isFlat() ? u + (suite.equals("/") ? "" : suite) : u + "dists/" + suite + "/";
        }
    }

    /** Reads the Release and Packages files of every source for the given architecture. */
    public static AptIndex read(List<Source> sources, String arch) throws IOException {
        Map<String, Set<String>> versions = new LinkedHashMap<>();
        StringBuilder state = new StringBuilder();
        java.time.Instant newest = null;
        for (Source s : sources) {
            Fetched f = fetch(s, arch);
            java.time.Instant date = ReleaseDate.of(f.release());
            if (date != null && (newest == null || date.isAfter(newest))) {
                newest = date;
            }
            state.append(s.debLine())
                    .append('\n')
                    .append(Hashing.sha256(f.release()))
                    .append('\n');
            for (byte[] packages : f.packages()) {
                parse(packages, versions);
            }
        }
        return new AptIndex(versions, Hashing.sha256(state.toString()), newest);
    }

    /**
     * The newest {@code Date:} of the Release files read (null if none has one): the build's source
     * date.
     */
    public java.time.Instant newestReleaseDate() {
        return newestReleaseDate;
    }

    /**
     * One source's Release file and its decompressed Packages files (also read by {@link
     * UpdateIndex}).
     */
    record Fetched(byte[] release, List<byte[]> packages) {}

    static Fetched fetch(Source s, String arch) throws IOException {
        byte[] release = fetchFirst(s.base(), List.of("InRelease", "Release"));
        List<String> indexDirs = s.isFlat()
                ? List.of("")
                : s.components().stream().map(c -> c + "/binary-" + arch + "/").toList();
        List<byte[]> packages = new ArrayList<>();
        for (String dir : indexDirs) {
            packages.add(fetchFirst(s.base() + dir, List.of("Packages.xz", "Packages.gz", "Packages")));
        }
        return new Fetched(release, packages);
    }

    /** A digest of every source's Release file: changes whenever the mirror publishes anything. */
    public String state() {
        return state;
    }

    public boolean has(String pkg, String version) {
        return versions.getOrDefault(pkg, Set.of()).contains(version);
    }

    public boolean hasPackage(String pkg) {
        return versions.containsKey(pkg);
    }

    public List<String> versionsOf(String pkg) {
        return new ArrayList<>(versions.getOrDefault(pkg, Set.of()));
    }

    private static byte[] fetchFirst(String base, List<String> names) throws IOException {
        List<String> tried = new ArrayList<>();
        for (String name : names) {
            URI uri = URI.create(base + name);
            tried.add(uri.toString());
            HttpResponse<byte[]> r;
            try {
                r = HTTP.send(
                        HttpRequest.newBuilder(uri)
                                .timeout(Duration.ofMinutes(2))
                                .GET()
                                .build(),
                        HttpResponse.BodyHandlers.ofByteArray());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while reading " + uri);
            } catch (IOException e) {
                throw new IOException("cannot read the package index at " + uri + ": " + describe(e), e);
            }
            if (r.statusCode() == 200) {
                return decompress(name, r.body());
            }
            if (r.statusCode() != 404) {
                throw new IOException("cannot read the package index at " + uri + ": HTTP " + r.statusCode());
            }
        }
        throw new IOException("the mirror has no index here; tried "
                + String.join(", ", tried)
                + " (check base.mirror, base.suite and base.components)");
    }

    private static String describe(IOException e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static byte[] decompress(String name, byte[] body) throws IOException {
        if (name.endsWith(".xz")) {
            try (InputStream in = new XZInputStream(new java.io.ByteArrayInputStream(body))) {
                return in.readAllBytes();
            }
        }
        if (name.endsWith(".gz")) {
            try (InputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(body))) {
                return in.readAllBytes();
            }
        }
        return body;
    }

    /** Collects Package/Version pairs from a Packages file (RFC822-style stanzas). */
    static void parse(byte[] packages, Map<String, Set<String>> into) throws IOException {
        stanzas(packages, Set.of("Package", "Version"), f -> {
            if (f.containsKey("Package") && f.containsKey("Version")) {
                into.computeIfAbsent(f.get("Package"), k -> new LinkedHashSet<>())
                        .add(f.get("Version"));
            }
        });
    }

    /**
     * Calls {@code each} with the {@code wanted} single-line fields of every stanza of a Packages
     * (or Release) file; continuation lines are skipped.
     */
    static void stanzas(byte[] text, Set<String> wanted, java.util.function.Consumer<Map<String, String>> each)
            throws IOException {
        try (BufferedReader r = new BufferedReader(
                new InputStreamReader(new java.io.ByteArrayInputStream(text), StandardCharsets.UTF_8))) {
            Map<String, String> fields = new LinkedHashMap<>();
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty()) {
                    if (!fields.isEmpty()) {
                        each.accept(fields);
                        fields = new LinkedHashMap<>();
                    }
                    continue;
                }
                int colon = line.indexOf(':');
                if (colon > 0 && !Character.isWhitespace(line.charAt(0))) {
                    String name = line.substring(0, colon);
                    if (wanted.contains(name)) {
                        fields.put(name, line.substring(colon + 1).trim());
                    }
                }
            }
            if (!fields.isEmpty()) {
                each.accept(fields);
            }
        }
    }
}
