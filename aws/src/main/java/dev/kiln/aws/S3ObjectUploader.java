package dev.kiln.aws;

import static dev.kiln.aws.S3Publisher.MAX_PARTS;
import static dev.kiln.aws.S3Publisher.MIB;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.util.Hashing;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.Part;

/**
 * Why: how one object goes up (conditional PutObject, or a resumable multipart upload with parallel
 * parts) is apart from what a publish uploads and in which order.
 */
final class S3ObjectUploader {

    /** A multipart upload under way: its parts are queued in the pool. */
    record Multipart(UploadItem item, String uploadId, List<Future<CompletedPart>> parts) {}

    private final S3Client s3;
    private final String bucket;
    private final String where;
    private final ExecutorService pool;
    private final AtomicLong sent;
    private final long total;
    private final Progress.Step step;
    private final AtomicLong done = new AtomicLong();
    private final PublishListener listener;
    private final long partSize;

    S3ObjectUploader(
            S3Client s3,
            String bucket,
            String where,
            ExecutorService pool,
            AtomicLong sent,
            long total,
            Progress.Step step,
            PublishListener listener,
            long partSize) {
        this.listener = listener;
        this.partSize = partSize;
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
    String upload(UploadItem i) throws IOException {
        byte[] digest = verify(i);
        try {
            s3.putObject(
                    b -> b.bucket(bucket)
                            .key(i.key())
                            .ifNoneMatch("*")
                            .metadata(Map.of(S3Location.SHA256_METADATA, i.sha256()))
                            .contentType(contentType(i.rel()))
                            .checksumAlgorithm(ChecksumAlgorithm.SHA256)
                            .checksumSHA256(b64(digest)),
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

    /**
     * A 412 on a conditional write: someone (a concurrent kiln) wrote it first. Fine if the content
     * is ours.
     */
    private boolean alreadyThere(SdkException e, UploadItem i) throws PublishException {
        if (AwsErrors.status(e) == 412 || AwsErrors.is(e, "PreconditionFailed")) {
            if (S3RemoteVersion.matches(s3, bucket, i, where)) {
                return true;
            }
            throw new PublishException(
                    "s3://"
                            + bucket
                            + "/"
                            + i.key()
                            + " appeared during the upload with other"
                            + " content (another publisher of this version?); not overwriting it",
                    e);
        }
        return false;
    }

    /**
     * Hashes the local file and checks it against the manifest: a damaged store is not published.
     */
    private byte[] verify(UploadItem i) throws IOException {
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
            throw new PublishException(i.file()
                    + " does not match the sha256 its manifest records; the local store"
                    + " is damaged, rebuild the version (nothing of it was published)");
        }
        return digest;
    }

    /**
     * Starts (or resumes) the multipart upload of a big item and queues its parts; on the calling
     * thread, so part tasks never wait on the pool they run in.
     */
    Multipart startMultipart(UploadItem i) throws IOException {
        long part = Math.max(partSize, (i.size() + MAX_PARTS - 1) / MAX_PARTS);
        int parts = (int) ((i.size() + part - 1) / part);
        verify(i);
        String uploadId = null;
        Map<Integer, Part> have = new HashMap<>();
        try {
            // Resume the newest upload a crashed run left for this key if every part it holds is
            // a part of this very file; abort the others (and that one, if it does not fit).
            List<MultipartUpload> left = new ArrayList<>();
            for (MultipartUpload u : s3.listMultipartUploadsPaginator(
                            b -> b.bucket(bucket).prefix(i.key()))
                    .uploads()) {
                if (u.key().equals(i.key())) {
                    left.add(u);
                }
            }
            left.sort(Comparator.comparing(MultipartUpload::initiated, Comparator.nullsFirst(Comparator.naturalOrder()))
                    .reversed());
            for (MultipartUpload u : left) {
                if (uploadId == null) {
                    Map<Integer, Part> listed = new HashMap<>();
                    s3.listPartsPaginator(b -> b.bucket(bucket).key(i.key()).uploadId(u.uploadId()))
                            .parts()
                            .forEach(p -> listed.put(p.partNumber(), p));
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
                uploadId = s3.createMultipartUpload(b -> b.bucket(bucket)
                                .key(i.key())
                                .metadata(Map.of(S3Location.SHA256_METADATA, i.sha256()))
                                .contentType(contentType(i.rel()))
                                .checksumAlgorithm(ChecksumAlgorithm.SHA256))
                        .uploadId();
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
        UploadItem i = m.item();
        List<CompletedPart> completed = new ArrayList<>();
        for (Future<CompletedPart> f : m.parts()) {
            completed.add(await(f, pool));
        }
        try {
            s3.completeMultipartUpload(b -> b.bucket(bucket)
                    .key(i.key())
                    .uploadId(m.uploadId())
                    .ifNoneMatch("*")
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
    private boolean fits(UploadItem i, long part, int parts, Map<Integer, Part> listed) throws IOException {
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

    private boolean sameContent(UploadItem i, long offset, int length, Part p) throws IOException {
        byte[] data = read(i.file(), offset, length);
        if (p.checksumSHA256() != null) {
            return p.checksumSHA256().equals(b64(Hashing.sha256Digest().digest(data)));
        }
        // Without a listed checksum, the ETag of an unencrypted or SSE-S3 part is its MD5.
        try {
            String md5 =
                    HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
            return p.eTag() != null && p.eTag().replace("\"", "").equalsIgnoreCase(md5);
        } catch (java.security.NoSuchAlgorithmException e) {
            return false;
        }
    }

    private CompletedPart uploadPart(UploadItem i, String uploadId, int number, long offset, int length, Part there)
            throws IOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("publish interrupted");
        }
        if (there != null) { // checked by fits(): this part is there with this content
            advance(length);
            return CompletedPart.builder()
                    .partNumber(number)
                    .eTag(there.eTag())
                    .checksumSHA256(there.checksumSHA256())
                    .build();
        }
        byte[] data = read(i.file(), offset, length);
        String checksum = b64(Hashing.sha256Digest().digest(data));
        try {
            var r = s3.uploadPart(
                    b -> b.bucket(bucket)
                            .key(i.key())
                            .uploadId(uploadId)
                            .partNumber(number)
                            .contentLength((long) length)
                            .checksumAlgorithm(ChecksumAlgorithm.SHA256)
                            .checksumSHA256(checksum),
                    RequestBody.fromContentProvider(
                            () -> new ByteArrayInputStream(data), length, contentType(i.rel())));
            sent.addAndGet(length);
            advance(length);
            listener.partUploaded(i.key(), number);
            return CompletedPart.builder()
                    .partNumber(number)
                    .eTag(r.eTag())
                    .checksumSHA256(r.checksumSHA256() != null ? r.checksumSHA256() : checksum)
                    .build();
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "uploading part " + number + " of " + i.rel(), where);
        }
    }

    /**
     * Aborts multipart uploads under the version's prefix that a crashed or failed publish left
     * (kiln is the only writer under PREFIX/NAME/VERSION/), but not {@code keep}.
     */
    static int abortLeftovers(S3Client s3, S3Location dest, String versionPrefix, String where, List<String> keep)
            throws PublishException {
        int n = 0;
        try {
            for (MultipartUpload u : s3.listMultipartUploadsPaginator(
                            b -> b.bucket(dest.bucket()).prefix(versionPrefix))
                    .uploads()) {
                if (!keep.contains(u.uploadId())) {
                    s3.abortMultipartUpload(
                            b -> b.bucket(dest.bucket()).key(u.key()).uploadId(u.uploadId()));
                    n++;
                }
            }
        } catch (SdkException e) {
            if (AwsErrors.status(e) != 404) { // NoSuchUpload: gone already
                throw AwsErrors.explain(
                        e, "aborting stale multipart uploads under s3://" + dest.bucket() + "/" + versionPrefix, where);
            }
        }
        return n;
    }

    static <T> T await(Future<T> f, ExecutorService pool) throws IOException {
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

    static String b64(byte[] digest) {
        return Base64.getEncoder().encodeToString(digest);
    }
}
