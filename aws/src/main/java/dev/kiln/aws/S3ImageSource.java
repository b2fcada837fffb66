package dev.kiln.aws;

import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ManifestSignatures;
import dev.kiln.core.util.ConsoleText;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;

/**
 * kiln serve's S3 store: versions published by {@code kiln publish --s3}, mirrored on demand into a
 * local cache store that the server serves from like any store.
 *
 * <p>A version exists when its manifest.json object does (publish uploads it last). Mirroring reads
 * the manifest first, then every artifact it lists into a staging directory of the cache, each
 * checked against the manifest's size and sha256, and makes the version visible with one rename
 * ({@link ImageStore.Staging}): a failed, corrupt or interrupted fetch leaves nothing visible.
 * Versions are immutable, so one in the cache is not fetched again; its manifest is still compared
 * with S3's, so a different build under the same version is refused, not served stale.
 */
public final class S3ImageSource implements ImageSource {
    private static final Logger LOG = LoggerFactory.getLogger(S3ImageSource.class);
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final int BUFFER = 1 << 20;

    private final S3Location location;
    private final S3Store store;
    private final S3Client s3;
    private final String where;
    private final ImageStore cache;
    private volatile Map<ImageRef, String> failed = Map.of();

    private S3ImageSource(S3Store store, ImageStore cache) {
        this.store = store;
        this.location = store.location();
        this.s3 = store.s3();
        this.where = store.where();
        this.cache = cache;
    }

    /**
     * Checks the bucket once ({@link S3Store#open}), so a typo fails at start.
     *
     * @param cacheDir the local store versions are mirrored into; see {@link #defaultCache}
     */
    public static S3ImageSource open(S3Location location, AwsSettings settings, Path cacheDir) throws IOException {
        return new S3ImageSource(S3Store.open(location, settings), new ImageStore(cacheDir));
    }

    /** $XDG_CACHE_HOME/kiln/s3-images/BUCKET/PREFIX, else ~/.cache/kiln/s3-images/BUCKET/PREFIX. */
    public static Path defaultCache(S3Location location) {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        Path dir = base.resolve("kiln").resolve("s3-images").resolve(location.bucket());
        return location.prefix().isEmpty() ? dir : dir.resolve(location.prefix());
    }

    public S3Location location() {
        return location;
    }

    @Override
    public ImageStore store() {
        return cache;
    }

    @Override
    public boolean exists(ImageRef ref) throws IOException {
        String key = location.manifestKey(ref);
        try {
            s3.headObject(b -> b.bucket(location.bucket()).key(key));
            return true;
        } catch (NoSuchKeyException e) {
            return false;
        } catch (SdkException e) {
            if (AwsErrors.status(e) == 404) {
                return false;
            }
            throw AwsErrors.explain(e, "looking for s3://" + location.bucket() + "/" + key, where);
        }
    }

    @Override
    public String notFound(ImageRef ref) {
        return "the S3 store "
                + location
                + " (no "
                + location.url(ref)
                + ImageStore.MANIFEST
                + "; kiln publish --s3 puts versions there)";
    }

    /**
     * Mirrors each version not in the cache yet, one after the other; failures are kept by version.
     */
    @Override
    public synchronized void sync(Collection<ImageRef> refs) {
        Map<ImageRef, String> problems = new LinkedHashMap<>();
        for (ImageRef ref : new LinkedHashSet<>(refs)) {
            try {
                mirror(ref);
            } catch (IOException | RuntimeException e) {
                String why = "image " + ref + " could not be fetched from " + location.url(ref) + ": " + e.getMessage();
                LOG.error(
                        "s3: {}; its nodes are refused until the inventory is reloaded (edit or touch it to retry)",
                        why);
                problems.put(ref, why);
            }
        }
        failed = Map.copyOf(problems);
    }

    @Override
    public String unavailable(ImageRef ref) {
        return failed.get(ref);
    }

    private void mirror(ImageRef ref) throws IOException {
        String prefix = location.versionPrefix(ref);
        byte[] manifestBytes;
        try {
            manifestBytes = s3.getObjectAsBytes(b -> b.bucket(location.bucket()).key(location.manifestKey(ref)))
                    .asByteArray();
        } catch (NoSuchKeyException e) {
            throw new IOException("it has no manifest.json there (not published, or removed)");
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "fetching its manifest.json", where);
        }
        String manifestSha = Hashing.sha256(manifestBytes);
        if (cache.exists(ref)) {
            String cached = Hashing.sha256(cache.dir(ref).resolve(ImageStore.MANIFEST));
            if (!cached.equals(manifestSha)) {
                throw new IOException("the cache holds another build of it than S3 (manifest sha256 "
                        + cached.substring(0, 12)
                        + "... here, "
                        + manifestSha.substring(0, 12)
                        + "... in S3); remove "
                        + cache.dir(ref)
                        + " to fetch S3's");
            }
            LOG.info("s3: {} is in the cache already ({})", ref, cache.dir(ref));
            Path sig = cache.dir(ref).resolve(ManifestSignatures.FILE);
            if (!Files.exists(sig) && fetchSignature(prefix, cache.dir(ref), sig)) {
                LOG.info("s3: {} was signed since it was cached; fetched its {}", ref, ManifestSignatures.FILE);
            }
            return;
        }
        Manifest manifest;
        try {
            manifest = Json.MAPPER.readValue(manifestBytes, Manifest.class);
        } catch (IOException e) {
            throw new IOException("its manifest.json is not a kiln manifest: " + e.getMessage());
        }
        if (!ref.name().equals(manifest.name()) || !ref.version().equals(manifest.version())) {
            throw new IOException("its manifest.json is that of " + manifest.name() + ":" + manifest.version());
        }
        Map<String, Manifest.Artifact> artifacts = manifest.artifacts() == null ? Map.of() : manifest.artifacts();
        long total =
                artifacts.values().stream().mapToLong(Manifest.Artifact::size).sum();
        LOG.info(
                "s3: fetching {} from {}: {} artifacts, {} MiB, into {}",
                ref,
                location.url(ref),
                artifacts.size(),
                total >> 20,
                cache.root());
        long started = System.nanoTime();
        // The staging directory is in the cache, invisible to the server; a kill -9 leftover is
        // swept by the next stage().
        try (ImageStore.Staging staging = cache.stage(ref)) {
            int i = 0;
            for (Map.Entry<String, Manifest.Artifact> a : artifacts.entrySet()) {
                i++;
                long t0 = System.nanoTime();
                fetch(prefix, a.getKey(), a.getValue(), target(staging.dir(), a.getKey()));
                long ms = Math.max(1, (System.nanoTime() - t0) / 1_000_000);
                LOG.info(
                        "s3: {} [{}/{}] {} ({} bytes) fetched and verified in {} ms",
                        ref,
                        i,
                        artifacts.size(),
                        a.getKey(),
                        a.getValue().size(),
                        ms);
            }
            // Optional, and checked only where signatures are required (kiln serve --trust).
            fetchSignature(prefix, staging.dir(), staging.dir().resolve(ManifestSignatures.FILE));
            staging.commit(manifestBytes);
        }
        LOG.info(
                "s3: {} is ready in the cache ({} MiB in {} s)",
                ref,
                total >> 20,
                (System.nanoTime() - started) / 1_000_000_000);
    }

    /**
     * Where an artifact goes. The manifest comes from the bucket, so its paths are checked like
     * request paths: plain relative names only, nothing that could land outside the staging dir.
     */
    private static Path target(Path dir, String rel) throws IOException {
        for (String seg : rel.split("/", -1)) {
            boolean bad = seg.isEmpty()
                    || seg.equals(".")
                    || seg.equals("..")
                    || seg.equals(ImageStore.MANIFEST) && seg.equals(rel);
            for (int i = 0; i < seg.length() && !bad; i++) {
                char c = seg.charAt(i);
                bad = c == '\\' || c < 0x20 || c == 0x7f;
            }
            if (bad) {
                throw new IOException("its manifest lists an artifact path kiln does not accept: '"
                        + ConsoleText.scriptSafe(rel)
                        + "'");
            }
        }
        Path p = dir.resolve(rel).normalize();
        if (!p.startsWith(dir)) {
            throw new IOException(
                    "its manifest lists an artifact outside the version: '" + ConsoleText.scriptSafe(rel) + "'");
        }
        return p;
    }

    /**
     * Streams one object to its file, hashing on the way; a wrong size or sha256 fails the version.
     */
    private void fetch(String prefix, String rel, Manifest.Artifact artifact, Path file) throws IOException {
        if (artifact.sha256() == null || !SHA256.matcher(artifact.sha256()).matches()) {
            throw new IOException(rel + ": the manifest has no valid sha256 for it");
        }
        String key = prefix + rel;
        MessageDigest md = Hashing.sha256Digest();
        long n = 0;
        Files.createDirectories(file.getParent());
        try (ResponseInputStream<GetObjectResponse> in =
                        s3.getObject(b -> b.bucket(location.bucket()).key(key));
                OutputStream out =
                        Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            Long length = in.response().contentLength();
            if (length != null && length != artifact.size()) {
                in.abort();
                throw new IOException(
                        rel + ": the S3 object is " + length + " bytes, the manifest says " + artifact.size());
            }
            n = copy(in, out, md);
        } catch (NoSuchKeyException e) {
            throw new IOException(rel + ": listed in the manifest but not in S3");
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "fetching " + rel, where);
        }
        String sha = HexFormat.of().formatHex(md.digest());
        if (n != artifact.size() || !sha.equals(artifact.sha256())) {
            throw new IOException(rel
                    + ": the S3 object ("
                    + n
                    + " bytes, sha256 "
                    + sha.substring(0, 12)
                    + "...) does not match the manifest ("
                    + artifact.size()
                    + " bytes, sha256 "
                    + artifact.sha256().substring(0, 12)
                    + "...); not serving this version");
        }
    }

    /** The version's detached signature, if it has one (written whole or not at all). */
    private boolean fetchSignature(String prefix, Path dir, Path file) throws IOException {
        byte[] sig;
        try {
            sig = s3.getObjectAsBytes(b -> b.bucket(location.bucket()).key(prefix + ManifestSignatures.FILE))
                    .asByteArray();
        } catch (NoSuchKeyException e) {
            return false;
        } catch (SdkException e) {
            if (AwsErrors.status(e) == 404) {
                return false;
            }
            throw AwsErrors.explain(e, "fetching " + ManifestSignatures.FILE, where);
        }
        Path tmp = Files.createTempFile(dir, "." + ManifestSignatures.FILE, ".tmp");
        try {
            Files.write(tmp, sig);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return true;
    }

    private static long copy(InputStream in, OutputStream out, MessageDigest md) throws IOException {
        byte[] buf = new byte[BUFFER];
        long n = 0;
        int r;
        while ((r = in.read(buf)) > 0) {
            md.update(buf, 0, r);
            out.write(buf, 0, r);
            n += r;
        }
        return n;
    }

    @Override
    public void close() {
        store.close();
    }
}
