package dev.kiln.builder.build;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;

/**
 * Content-addressed download cache: a URL is fetched once, checked against the sha256 the spec
 * pins, and kept under its digest. A mismatch is an error, never a silent re-download.
 */
public final class Downloads {
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(20))
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();

    private final Path dir;

    public Downloads(Path cacheDir) {
        this.dir = cacheDir.resolve("downloads");
    }

    public Path fetch(String url, String sha256, String field, Progress.Step step) throws IOException {
        Path target = dir.resolve(sha256);
        if (Files.isRegularFile(target)) {
            return target;
        }
        Files.createDirectories(dir);
        Path partial = dir.resolve("." + sha256 + "." + ProcessHandle.current().pid());
        try {
            HttpResponse<InputStream> r;
            try {
                r = HTTP.send(
                        HttpRequest.newBuilder(URI.create(url))
                                .timeout(Duration.ofMinutes(10))
                                .GET()
                                .build(),
                        HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while downloading " + url);
            } catch (IOException e) {
                throw new IOException(
                        field + ": cannot download " + url + ": " + e + " (point the spec at a mirror you can reach)",
                        e);
            }
            if (r.statusCode() != 200) {
                r.body().close();
                throw new IOException(field + ": cannot download " + url + ": HTTP " + r.statusCode());
            }
            long total = r.headers().firstValueAsLong("content-length").orElse(-1);
            MessageDigest md = Hashing.sha256Digest();
            try (InputStream in = r.body();
                    OutputStream out = Files.newOutputStream(partial)) {
                byte[] buf = new byte[1 << 16];
                long done = 0;
                int n;
                while ((n = in.read(buf)) > 0) {
                    out.write(buf, 0, n);
                    md.update(buf, 0, n);
                    done += n;
                    if (total > 0) {
                        step.fraction((double) done / total);
                    }
                }
            }
            String got = HexFormat.of().formatHex(md.digest());
            if (!got.equals(sha256)) {
                throw new IOException(field
                        + ": sha256 mismatch for "
                        + url
                        + ": the spec pins "
                        + sha256
                        + " but the download is "
                        + got
                        + "; nothing was installed");
            }
            Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
            return target;
        } finally {
            Files.deleteIfExists(partial);
        }
    }
}
