package dev.kiln.fleet;

import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.server.HttpOutput;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GET/HEAD /images/NAME/VERSION/PATH: the artifacts of a stored image version, for iPXE and the
 * initrd. Serves only what the version's manifest lists (plus manifest.json itself), with the
 * manifest's sha256 as a strong ETag, single-range requests (206/416) so a download can resume, and
 * streaming straight from the file (no whole-file buffering; rootfs.squashfs is 100+ MiB). Errors
 * say what is wrong with the request, never where the store is.
 */
final class ImageFiles {
    private static final Logger LOG = LoggerFactory.getLogger(ImageFiles.class);
    static final String PREFIX = "/images/";

    /**
     * Bytes mapped per write; not final so a test can make chunk boundaries fall inside small
     * files.
     */
    static long mapChunk = 64L * 1024 * 1024;

    private static final int COPY_CHUNK = 256 * 1024;

    private final ImageStore store;

    /** Parsed manifests by version directory; re-read when manifest.json changes on disk. */
    private final Map<Path, CachedManifest> manifests = new ConcurrentHashMap<>();

    private record CachedManifest(Object fileKey, long mtime, long size, Manifest manifest, String sha256) {}

    ImageFiles(ImageStore store) {
        this.store = store;
    }

    void handle(Context ctx, boolean head) throws IOException {
        String uri = ctx.req().getRequestURI();
        ImagePath path;
        try {
            path = ImagePath.parse(uri.substring(PREFIX.length()));
        } catch (ImagePath.BadPath e) {
            LOG.warn("images: refused {} from {}: {}", uri, ctx.ip(), e.getMessage());
            KilnServer.plain(ctx, 400, "bad path: " + e.getMessage());
            return;
        }
        Path versionDir = store.dir(path.image());
        CachedManifest cached = manifest(versionDir);
        if (cached == null) {
            KilnServer.plain(ctx, 404, "no image " + path.image());
            return;
        }
        String etag;
        long expectedSize;
        if (path.relative().equals(ImageStore.MANIFEST)) {
            etag = cached.sha256();
            expectedSize = cached.size();
        } else {
            Manifest.Artifact artifact = cached.manifest().artifacts() == null
                    ? null
                    : cached.manifest().artifacts().get(path.relative());
            if (artifact == null) {
                LOG.warn("images: refused {} from {}: not in the manifest of {}", uri, ctx.ip(), path.image());
                KilnServer.plain(ctx, 404, "image " + path.image() + " has no artifact " + path.relative());
                return;
            }
            etag = artifact.sha256();
            expectedSize = artifact.size();
        }
        // The manifest decides what may be asked for; the real path decides what is opened. A
        // symlink inside the version directory must not lead anywhere else.
        Path file;
        try {
            Path realDir = versionDir.toRealPath();
            file = versionDir.resolve(path.relative()).toRealPath();
            if (!file.startsWith(realDir) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                LOG.warn(
                        "images: refused {} from {}: resolves outside {} or to a non-file",
                        uri,
                        ctx.ip(),
                        path.image());
                KilnServer.plain(ctx, 404, "image " + path.image() + " has no artifact " + path.relative());
                return;
            }
        } catch (NoSuchFileException e) {
            LOG.error("images: {} lists {} but the file is missing from the store", path.image(), path.relative());
            KilnServer.plain(ctx, 404, "image " + path.image() + " has no artifact " + path.relative());
            return;
        }
        String quoted = "\"" + etag + "\"";
        HttpServletResponse res = ctx.res();
        res.setHeader("ETag", quoted);
        res.setHeader("Accept-Ranges", "bytes");
        if (matches(ctx.header("If-None-Match"), quoted)) {
            res.setStatus(304);
            return;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size != expectedSize) {
                // The store is immutable; a size that disagrees with the manifest is damage. A node
                // would reject the bytes by their sha256 anyway: say so here, where it can be
                // fixed.
                LOG.error(
                        "images: {} {} is {} bytes but its manifest says {}; not serving it",
                        path.image(),
                        path.relative(),
                        size,
                        expectedSize);
                KilnServer.plain(ctx, 500, "artifact does not match its manifest");
                return;
            }
            String ifRange = ctx.header("If-Range");
            ByteRange range = ifRange != null && !ifRange.trim().equals(quoted)
                    ? ByteRange.whole(size) // the client's copy is of other bytes: send all of them
                    : ByteRange.of(ctx.header("Range"), size);
            if (range.kind() == ByteRange.Kind.UNSATISFIABLE) {
                res.setHeader("Content-Range", "bytes */" + size);
                KilnServer.plain(ctx, 416, "range not satisfiable (size " + size + ")");
                return;
            }
            res.setContentType(contentType(path.relative()));
            if (range.kind() == ByteRange.Kind.PARTIAL) {
                res.setStatus(206);
                res.setHeader("Content-Range", "bytes " + range.start() + "-" + range.end() + "/" + size);
            } else {
                res.setStatus(200);
            }
            long length = size == 0 ? 0 : range.length();
            res.setContentLengthLong(length);
            if (!head && length > 0) {
                send(ch, range.start(), length, res.getOutputStream());
            }
        }
    }

    /**
     * Streams a byte range of the file. On Jetty (what Javalin runs on) the file is memory-mapped
     * in chunks and each chunk handed to Jetty as a direct buffer, which goes from the page cache
     * to the socket without passing through the Java heap: on loopback this more than doubles the
     * aggregate rate of 20 concurrent rootfs.squashfs downloads over a byte[] copy loop (see
     * bench/serve.sh). Elsewhere, positional reads through a fixed buffer. Memory stays fixed
     * either way. Store files are immutable; a file truncated while mapped would fault the reader.
     */
    static void send(FileChannel ch, long position, long length, OutputStream out) throws IOException {
        long pos = position;
        long left = length;
        if (out instanceof HttpOutput jetty) {
            while (left > 0) {
                long n = Math.min(mapChunk, left);
                jetty.write(ch.map(FileChannel.MapMode.READ_ONLY, pos, n));
                pos += n;
                left -= n;
            }
            return;
        }
        byte[] chunk = new byte[(int) Math.min(COPY_CHUNK, length)];
        ByteBuffer buf = ByteBuffer.wrap(chunk);
        while (left > 0) {
            buf.clear().limit((int) Math.min(chunk.length, left));
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("file shrank while being sent");
            }
            out.write(chunk, 0, n);
            pos += n;
            left -= n;
        }
    }

    /** If-None-Match: a list of entity tags or "*"; weak comparison, as RFC 9110 says for it. */
    static boolean matches(String ifNoneMatch, String quotedEtag) {
        if (ifNoneMatch == null) {
            return false;
        }
        for (String tag : ifNoneMatch.split(",")) {
            String t = tag.trim();
            if (t.startsWith("W/")) {
                t = t.substring(2);
            }
            if (t.equals("*") || t.equals(quotedEtag)) {
                return true;
            }
        }
        return false;
    }

    private CachedManifest manifest(Path versionDir) throws IOException {
        Path file = versionDir.resolve(ImageStore.MANIFEST);
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            manifests.remove(versionDir);
            return null;
        }
        CachedManifest c = manifests.get(versionDir);
        long mtime = attrs.lastModifiedTime().toMillis();
        if (c != null
                && c.size() == attrs.size()
                && c.mtime() == mtime
                && java.util.Objects.equals(c.fileKey(), attrs.fileKey())) {
            return c;
        }
        byte[] bytes = Files.readAllBytes(file);
        Manifest m = Json.MAPPER.readValue(bytes, Manifest.class);
        c = new CachedManifest(attrs.fileKey(), mtime, bytes.length, m, Hashing.sha256(bytes));
        manifests.put(versionDir, c);
        return c;
    }

    private static String contentType(String relative) {
        if (relative.endsWith(".json")) {
            return "application/json";
        }
        if (relative.endsWith(".ipxe")) {
            return "text/plain; charset=utf-8";
        }
        return "application/octet-stream";
    }
}
