package dev.kiln.aws;

import dev.kiln.core.store.Published;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.ManifestSignatures;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.Part;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Publishes a version to S3 as {@code PREFIX/NAME/VERSION/<artifact path>}, manifest.json last.
 *
 * <p>Readers find a version through its manifest, so uploading it last means a reader never sees a
 * version whose artifacts are missing. Nothing is ever overwritten: every write is conditional
 * ({@code If-None-Match: *}), and before that kiln looks (so an S3 look-alike that ignores the
 * condition is still safe against everything but a concurrent writer). Every object carries the
 * sha256 of its content as user metadata ({@code x-amz-meta-kiln-sha256}); a re-run after a crash
 * skips objects already there with the right sha256, resumes the multipart uploads it left (after
 * checking each uploaded part against the local file) and aborts the rest, so it ends with exactly
 * one complete copy.
 */
public final class S3Publisher {
    static final long MIB = 1 << 20;
    /** S3: at most 10,000 parts, each at least 5 MiB but the last. */
    static final int MAX_PARTS = 10_000;

    private final AwsClients clients;
    private final Progress progress;
    private final PublishListener listener;
    private int workers = 8;
    private long multipartThreshold = 64 * MIB;
    private long partSize = 16 * MIB;

    public S3Publisher(AwsClients clients, Progress progress, PublishListener listener) {
        this.clients = clients;
        this.progress = progress;
        this.listener = listener;
    }

    /** Parallel uploads (objects and parts). Default 8. */
    public S3Publisher workers(int n) {
        this.workers = Math.max(1, n);
        return this;
    }

    /** Files at least this big go up as multipart uploads of {@code partSize} parts (min 5 MiB). */
    public S3Publisher multipart(long threshold, long part) {
        if (part < 5 * MIB) {
            throw new IllegalArgumentException("S3 parts are at least 5 MiB");
        }
        this.multipartThreshold = threshold;
        this.partSize = part;
        return this;
    }

    /** What a publish did. {@code alreadyPublished}: the manifest was there already, nothing was uploaded. */
    public record Result(String url, int uploaded, int skipped, long bytesSent, boolean alreadyPublished,
                         int abortedUploads) { }

    /** One file of the version to upload. */
    private record Item(String rel, Path file, String sha256, long size, String key) { }

    /** A multipart upload under way: its parts are queued in the pool. */
    private record Multipart(Item item, String uploadId, List<Future<CompletedPart>> parts) { }

    public Result publish(ImageStore store, ImageRef ref, S3Location dest) throws IOException {
        Manifest manifest = store.manifest(ref);
        Path dir = store.dir(ref);
        Region region = clients.settings().homeRegion();
        S3Client s3 = clients.s3(region);
        String versionPrefix = dest.versionPrefix(ref);
        String where = "region " + region.id()
                + (clients.settings().endpoint() != null ? " (endpoint " + clients.settings().endpoint() + ")" : "");

        // 1. What there is to publish: every artifact of the manifest, the SBOM, and the manifest.
        List<Item> items = new ArrayList<>();
        for (Map.Entry<String, Manifest.Artifact> a : manifest.artifacts().entrySet()) {
            Path f = dir.resolve(a.getKey());
            if (!Files.isRegularFile(f) || Files.size(f) != a.getValue().size()) {
                throw new PublishException(ref + ": " + f + " is missing or not the size its manifest records ("
                        + a.getValue().size() + " bytes); the local store is damaged, rebuild the version");
            }
            items.add(new Item(a.getKey(), f, a.getValue().sha256(), a.getValue().size(), versionPrefix + a.getKey()));
        }
        Path sbom = dir.resolve("sbom.cdx.json");
        if (Files.isRegularFile(sbom) && !manifest.artifacts().containsKey("sbom.cdx.json")) {
            items.add(new Item("sbom.cdx.json", sbom, Hashing.sha256(sbom), Files.size(sbom), versionPrefix + "sbom.cdx.json"));
        }
        // The detached signature goes up before the manifest too: a reader that finds the manifest of
        // a signed version finds its signature.
        Path signature = dir.resolve(ManifestSignatures.FILE);
        Item signatureItem = null;
        if (Files.isRegularFile(signature)) {
            signatureItem = new Item(ManifestSignatures.FILE, signature, Hashing.sha256(signature), Files.size(signature),
                    versionPrefix + ManifestSignatures.FILE);
            items.add(signatureItem);
        }
        Path manifestFile = dir.resolve(ImageStore.MANIFEST);
        Item manifestItem = new Item(ImageStore.MANIFEST, manifestFile, Hashing.sha256(manifestFile), Files.size(manifestFile),
                versionPrefix + ImageStore.MANIFEST);

        // 2. What is there already. This first call also checks the bucket, the credentials and the region.
        Map<String, S3Object> existing = new HashMap<>();
        try (Progress.Step step = progress.step("check " + dest.url(ref))) {
            try {
                for (ListObjectsV2Response page : s3.listObjectsV2Paginator(b -> b.bucket(dest.bucket()).prefix(versionPrefix))) {
                    for (S3Object o : page.contents()) {
                        existing.put(o.key(), o);
                    }
                }
            } catch (SdkException e) {
                step.failed();
                if (AwsErrors.is(e, "NoSuchBucket") || AwsErrors.status(e) == 404) {
                    throw new PublishException("bucket '" + dest.bucket() + "' does not exist (looked in " + where
                            + "): create it first (aws s3 mb s3://" + dest.bucket() + ") or check --s3", e);
                }
                throw AwsErrors.explain(e, "listing " + dest.url(ref), where);
            }
            if (existing.containsKey(manifestItem.key())) {
                String remote = Hashing.sha256(s3.getObjectAsBytes(b -> b.bucket(dest.bucket()).key(manifestItem.key())).asByteArray());
                if (!remote.equals(manifestItem.sha256())) {
                    step.failed();
                    throw new PublishException(dest.url(ref) + " already holds a different manifest for " + ref
                            + " (sha256 " + remote.substring(0, 16) + "…, local " + manifestItem.sha256().substring(0, 16)
                            + "…): versions are immutable, kiln does not overwrite it; publish under another version or prefix");
                }
                step.detail("already published");
            }
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "reading " + dest.url(ref), where);
        }
        if (existing.containsKey(manifestItem.key())) {
            int aborted = abortLeftovers(s3, dest, versionPrefix, where, List.of());
            int signed = 0;
            if (signatureItem != null && !existing.containsKey(signatureItem.key())) {
                // Signed after it was published: the signature joins the (unchanged) manifest.
                new Uploader(s3, dest.bucket(), where, null, new AtomicLong(), signatureItem.size(),
                        Progress.SILENT.step("signature")).upload(signatureItem);
                signed = 1;
            }
            for (Item i : items) {
                if (signed == 0 || i != signatureItem) {
                    listener.objectSkipped(i.key());
                }
            }
            listener.objectSkipped(manifestItem.key());
            record(dir, ref, dest, items, manifestItem);
            return new Result(dest.url(ref), signed, items.size() + 1 - signed, signed == 0 ? 0 : signatureItem.size(), true,
                    aborted);
        }

        // 3. Skip what is complete with the right content; refuse what holds something else.
        List<Item> todo = new ArrayList<>();
        int skipped = 0;
        for (Item i : items) {
            if (existing.containsKey(i.key())) {
                if (matches(s3, dest.bucket(), i, where)) {
                    skipped++;
                    listener.objectSkipped(i.key());
                    continue;
                }
                throw new PublishException(dest.url(ref) + i.rel() + " exists with other content than the local "
                        + ref + " (a different build of this version was partly published there); versions are immutable,"
                        + " kiln does not overwrite it: remove " + dest.url(ref) + " (it has no manifest yet, so no reader"
                        + " uses it) or publish under another prefix");
            }
            todo.add(i);
        }

        long total = todo.stream().mapToLong(Item::size).sum() + manifestItem.size();
        AtomicLong sent = new AtomicLong();
        int uploaded = 0;
        List<String> completedUploads = new ArrayList<>();
        try (Progress.Step step = progress.step(String.format("upload %d of %d objects (%s) to %s", todo.size() + 1,
                items.size() + 1, human(total), dest.url(ref)))) {
            ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
                Thread t = new Thread(r, "kiln-s3-upload");
                t.setDaemon(true);
                return t;
            });
            try {
                Uploader up = new Uploader(s3, dest.bucket(), where, pool, sent, total, step);
                // 4. Artifacts first, in parallel: small ones whole, big ones as multipart uploads
                //    whose parts go up in parallel too ...
                List<Future<String>> small = new ArrayList<>();
                List<Multipart> big = new ArrayList<>();
                for (Item i : todo) {
                    if (i.size() < multipartThreshold) {
                        small.add(pool.submit(() -> up.upload(i)));
                    }
                }
                for (Item i : todo) {
                    if (i.size() >= multipartThreshold) {
                        big.add(up.startMultipart(i));
                    }
                }
                for (Future<String> f : small) {
                    await(f, pool);
                    uploaded++;
                }
                for (Multipart m : big) {
                    completedUploads.add(up.finishMultipart(m));
                    uploaded++;
                }
                // 5. ... and the manifest last: from now on readers see the version, complete.
                step.detail("manifest");
                up.upload(manifestItem);
                uploaded++;
                step.fraction(1.0);
            } catch (IOException | RuntimeException e) {
                step.failed();
                throw e;
            } finally {
                pool.shutdownNow();
            }
        }
        int aborted = abortLeftovers(s3, dest, versionPrefix, where, completedUploads);
        record(dir, ref, dest, items, manifestItem);
        return new Result(dest.url(ref), uploaded, skipped, sent.get(), false, aborted);
    }

    /** Notes the complete copy in published.json, next to the manifest. */
    private void record(Path dir, ImageRef ref, S3Location dest, List<Item> items, Item manifestItem) throws IOException {
        long bytes = items.stream().mapToLong(Item::size).sum() + manifestItem.size();
        String endpoint = clients.settings().endpoint() == null ? null : clients.settings().endpoint().toString();
        Published.update(dir, ref.toString(), p -> p.withS3(new Published.S3Copy(dest.url(ref), endpoint, now(),
                items.size() + 1, bytes)));
    }

    private static <T> T await(Future<T> f, ExecutorService pool) throws IOException {
        try {
            return Tasks.result(f);
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("publish interrupted");
        } catch (IOException | RuntimeException e) {
            pool.shutdownNow();
            throw e;
        }
    }

    /** True if the object at the item's key holds the item's content (by its sha256 metadata and size). */
    private boolean matches(S3Client s3, String bucket, Item i, String where) throws PublishException {
        try {
            HeadObjectResponse h = s3.headObject(b -> b.bucket(bucket).key(i.key()));
            return i.sha256().equals(h.metadata().get(S3Location.SHA256_METADATA)) && h.contentLength() == i.size();
        } catch (SdkException e) {
            if (AwsErrors.status(e) == 404) {
                return false;
            }
            throw AwsErrors.explain(e, "reading s3://" + bucket + "/" + i.key(), where);
        }
    }

    /**
     * Aborts multipart uploads under the version's prefix that a crashed or failed publish left
     * (kiln is the only writer under PREFIX/NAME/VERSION/), but not {@code keep}.
     */
    private int abortLeftovers(S3Client s3, S3Location dest, String versionPrefix, String where, List<String> keep)
            throws PublishException {
        int n = 0;
        try {
            for (MultipartUpload u : s3.listMultipartUploadsPaginator(b -> b.bucket(dest.bucket()).prefix(versionPrefix)).uploads()) {
                if (!keep.contains(u.uploadId())) {
                    s3.abortMultipartUpload(b -> b.bucket(dest.bucket()).key(u.key()).uploadId(u.uploadId()));
                    n++;
                }
            }
        } catch (SdkException e) {
            if (AwsErrors.status(e) != 404) { // NoSuchUpload: gone already
                throw AwsErrors.explain(e, "aborting stale multipart uploads under s3://" + dest.bucket() + "/" + versionPrefix, where);
            }
        }
        return n;
    }

    private static String human(long bytes) {
        return bytes >= MIB ? String.format("%.1f MiB", bytes / (double) MIB) : bytes + " bytes";
    }

    private static String b64(byte[] digest) {
        return Base64.getEncoder().encodeToString(digest);
    }

    /** Uploads of one publish: single PutObjects, or multipart uploads with parallel parts. */
    private final class Uploader {
        private final S3Client s3;
        private final String bucket;
        private final String where;
        private final ExecutorService pool;
        private final AtomicLong sent;
        private final long total;
        private final Progress.Step step;
        private final AtomicLong done = new AtomicLong();

        Uploader(S3Client s3, String bucket, String where, ExecutorService pool, AtomicLong sent, long total,
                 Progress.Step step) {
            this.s3 = s3;
            this.bucket = bucket;
            this.where = where;
            this.pool = pool;
            this.sent = sent;
            this.total = total;
            this.step = step;
        }

        private void advance(long bytes) {
            long d = done.addAndGet(bytes);
            step.fraction(total == 0 ? 1.0 : Math.min(1.0, d / (double) total));
        }

        /** Uploads one item in one PutObject. */
        String upload(Item i) throws IOException {
            byte[] digest = verify(i);
            try {
                s3.putObject(b -> b.bucket(bucket).key(i.key()).ifNoneMatch("*")
                                .metadata(Map.of(S3Location.SHA256_METADATA, i.sha256()))
                                .contentType(contentType(i.rel()))
                                .checksumAlgorithm(ChecksumAlgorithm.SHA256).checksumSHA256(b64(digest)),
                        RequestBody.fromFile(i.file()));
                sent.addAndGet(i.size());
            } catch (SdkException e) {
                if (!alreadyThere(e, i)) {
                    throw AwsErrors.explain(e, "uploading " + i.rel() + " to s3://" + bucket + "/" + i.key(), where);
                }
            }
            advance(i.size());
            listener.objectUploaded(i.key(), i.size());
            return null;
        }

        /** A 412 on a conditional write: someone (a concurrent kiln) wrote it first. Fine if the content is ours. */
        private boolean alreadyThere(SdkException e, Item i) throws PublishException {
            if (AwsErrors.status(e) == 412 || AwsErrors.is(e, "PreconditionFailed")) {
                if (matches(s3, bucket, i, where)) {
                    return true;
                }
                throw new PublishException("s3://" + bucket + "/" + i.key() + " appeared during the upload with other"
                        + " content (another publisher of this version?); not overwriting it", e);
            }
            return false;
        }

        /** Hashes the local file and checks it against the manifest: a damaged store is not published. */
        private byte[] verify(Item i) throws IOException {
            MessageDigest md = Hashing.sha256Digest();
            try (FileChannel ch = FileChannel.open(i.file(), StandardOpenOption.READ)) {
                ByteBuffer buf = ByteBuffer.allocate((int) MIB);
                while (ch.read(buf) > 0) {
                    buf.flip();
                    md.update(buf);
                    buf.clear();
                }
            }
            byte[] digest = md.digest();
            if (!HexFormat.of().formatHex(digest).equals(i.sha256())) {
                throw new PublishException(i.file() + " does not match the sha256 its manifest records; the local store"
                        + " is damaged, rebuild the version (nothing of it was published)");
            }
            return digest;
        }

        /**
         * Starts (or resumes) the multipart upload of a big item and queues its parts; on the
         * calling thread, so part tasks never wait on the pool they run in.
         */
        Multipart startMultipart(Item i) throws IOException {
            long part = Math.max(partSize, (i.size() + MAX_PARTS - 1) / MAX_PARTS);
            int parts = (int) ((i.size() + part - 1) / part);
            verify(i);
            String uploadId = null;
            Map<Integer, Part> have = new HashMap<>();
            try {
                // Resume the newest upload a crashed run left for this key if every part it holds is
                // a part of this very file; abort the others (and that one, if it does not fit).
                List<MultipartUpload> left = new ArrayList<>();
                for (MultipartUpload u : s3.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(i.key())).uploads()) {
                    if (u.key().equals(i.key())) {
                        left.add(u);
                    }
                }
                left.sort(Comparator.comparing(MultipartUpload::initiated, Comparator.nullsFirst(Comparator.naturalOrder())).reversed());
                for (MultipartUpload u : left) {
                    if (uploadId == null) {
                        Map<Integer, Part> listed = new HashMap<>();
                        s3.listPartsPaginator(b -> b.bucket(bucket).key(i.key()).uploadId(u.uploadId()))
                                .parts().forEach(p -> listed.put(p.partNumber(), p));
                        if (fits(i, part, parts, listed)) {
                            uploadId = u.uploadId();
                            have = listed;
                            step.detail("resuming " + i.rel() + " (" + listed.size() + "/" + parts + " parts there)");
                            continue;
                        }
                    }
                    s3.abortMultipartUpload(b -> b.bucket(bucket).key(i.key()).uploadId(u.uploadId()));
                }
                if (uploadId == null) {
                    uploadId = s3.createMultipartUpload(b -> b.bucket(bucket).key(i.key())
                            .metadata(Map.of(S3Location.SHA256_METADATA, i.sha256()))
                            .contentType(contentType(i.rel()))
                            .checksumAlgorithm(ChecksumAlgorithm.SHA256)).uploadId();
                }
            } catch (SdkException e) {
                throw AwsErrors.explain(e, "starting the multipart upload of " + i.rel(), where);
            }
            final String id = uploadId;
            final Map<Integer, Part> existingParts = have;
            List<Future<CompletedPart>> futures = new ArrayList<>();
            for (int n = 1; n <= parts; n++) {
                final int number = n;
                final long offset = (n - 1) * part;
                final int length = (int) Math.min(part, i.size() - offset);
                futures.add(pool.submit(() -> uploadPart(i, id, number, offset, length, existingParts.get(number))));
            }
            return new Multipart(i, id, futures);
        }

        /** Waits for the parts, completes the upload (conditionally) and returns its id. */
        String finishMultipart(Multipart m) throws IOException {
            Item i = m.item();
            List<CompletedPart> completed = new ArrayList<>();
            for (Future<CompletedPart> f : m.parts()) {
                completed.add(await(f, pool));
            }
            try {
                s3.completeMultipartUpload(b -> b.bucket(bucket).key(i.key()).uploadId(m.uploadId()).ifNoneMatch("*")
                        .multipartUpload(u -> u.parts(completed)));
            } catch (SdkException e) {
                if (!alreadyThere(e, i)) {
                    throw AwsErrors.explain(e, "completing the multipart upload of " + i.rel(), where);
                }
                try {
                    s3.abortMultipartUpload(b -> b.bucket(bucket).key(i.key()).uploadId(m.uploadId()));
                } catch (SdkException ignored) {
                    // it may be gone already
                }
            }
            listener.objectUploaded(i.key(), i.size());
            return m.uploadId();
        }

        /** Whether the parts of a left-over upload are all parts of this file, cut the same way. */
        private boolean fits(Item i, long part, int parts, Map<Integer, Part> listed) throws IOException {
            for (Part p : listed.values()) {
                long offset = (p.partNumber() - 1L) * part;
                long expected = Math.min(part, i.size() - offset);
                if (p.partNumber() < 1 || p.partNumber() > parts || p.size() == null || p.size() != expected) {
                    return false;
                }
                if (!sameContent(i, offset, (int) expected, p)) {
                    return false;
                }
            }
            return true;
        }

        private boolean sameContent(Item i, long offset, int length, Part p) throws IOException {
            byte[] data = read(i.file(), offset, length);
            if (p.checksumSHA256() != null) {
                return p.checksumSHA256().equals(b64(Hashing.sha256Digest().digest(data)));
            }
            // Without a listed checksum, the ETag of an unencrypted or SSE-S3 part is its MD5.
            try {
                String md5 = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
                return p.eTag() != null && p.eTag().replace("\"", "").equalsIgnoreCase(md5);
            } catch (java.security.NoSuchAlgorithmException e) {
                return false;
            }
        }

        private CompletedPart uploadPart(Item i, String uploadId, int number, long offset, int length, Part there)
                throws IOException {
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedIOException("publish interrupted");
            }
            if (there != null) { // checked by fits(): this part is there with this content
                advance(length);
                return CompletedPart.builder().partNumber(number).eTag(there.eTag()).checksumSHA256(there.checksumSHA256()).build();
            }
            byte[] data = read(i.file(), offset, length);
            String checksum = b64(Hashing.sha256Digest().digest(data));
            try {
                var r = s3.uploadPart(b -> b.bucket(bucket).key(i.key()).uploadId(uploadId).partNumber(number)
                                .contentLength((long) length)
                                .checksumAlgorithm(ChecksumAlgorithm.SHA256).checksumSHA256(checksum),
                        RequestBody.fromContentProvider(() -> new ByteArrayInputStream(data), length, contentType(i.rel())));
                sent.addAndGet(length);
                advance(length);
                listener.partUploaded(i.key(), number);
                return CompletedPart.builder().partNumber(number).eTag(r.eTag())
                        .checksumSHA256(r.checksumSHA256() != null ? r.checksumSHA256() : checksum).build();
            } catch (SdkException e) {
                throw AwsErrors.explain(e, "uploading part " + number + " of " + i.rel(), where);
            }
        }
    }

    static byte[] read(Path file, long offset, int length) throws IOException {
        byte[] data = new byte[length];
        ByteBuffer buf = ByteBuffer.wrap(data);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    throw new IOException(file + " ended early at " + (offset + buf.position()));
                }
            }
        }
        return data;
    }

    private static String contentType(String rel) {
        if (rel.endsWith(".json")) {
            return "application/json";
        }
        if (rel.endsWith(".ipxe")) {
            return "text/plain";
        }
        if (rel.endsWith(".gz")) {
            return "application/gzip";
        }
        if (rel.endsWith(".tar")) {
            return "application/x-tar";
        }
        return "application/octet-stream";
    }

    static String now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    }
}
