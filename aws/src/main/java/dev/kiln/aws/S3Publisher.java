package dev.kiln.aws;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ManifestSignatures;
import dev.kiln.core.store.Published;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
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

    /**
     * What a publish did. {@code alreadyPublished}: the manifest was there already, nothing was
     * uploaded.
     */
    public record Result(
            String url, int uploaded, int skipped, long bytesSent, boolean alreadyPublished, int abortedUploads) {}

    public Result publish(ImageStore store, ImageRef ref, S3Location dest) throws IOException {
        Manifest manifest = store.manifest(ref);
        Path dir = store.dir(ref);
        Region region = clients.settings().homeRegion();
        S3Client s3 = clients.s3(region);
        String versionPrefix = dest.versionPrefix(ref);
        String where = "region "
                + region.id()
                + (clients.settings().endpoint() != null
                        ? " (endpoint " + clients.settings().endpoint() + ")"
                        : "");

        // 1. What there is to publish: every artifact of the manifest, the SBOM, and the manifest.
        List<UploadItem> items = new ArrayList<>();
        for (Map.Entry<String, Manifest.Artifact> a : manifest.artifacts().entrySet()) {
            Path f = dir.resolve(a.getKey());
            if (!Files.isRegularFile(f) || Files.size(f) != a.getValue().size()) {
                throw new PublishException(ref
                        + ": "
                        + f
                        + " is missing or not the size its manifest records ("
                        + a.getValue().size()
                        + " bytes); the local store is damaged, rebuild the version");
            }
            items.add(new UploadItem(
                    a.getKey(), f, a.getValue().sha256(), a.getValue().size(), versionPrefix + a.getKey()));
        }
        Path sbom = dir.resolve("sbom.cdx.json");
        if (Files.isRegularFile(sbom) && !manifest.artifacts().containsKey("sbom.cdx.json")) {
            items.add(new UploadItem(
                    "sbom.cdx.json", sbom, Hashing.sha256(sbom), Files.size(sbom), versionPrefix + "sbom.cdx.json"));
        }
        // The detached signature goes up before the manifest too: a reader that finds the manifest
        // of
        // a signed version finds its signature.
        Path signature = dir.resolve(ManifestSignatures.FILE);
        UploadItem signatureItem = null;
        if (Files.isRegularFile(signature)) {
            signatureItem = new UploadItem(
                    ManifestSignatures.FILE,
                    signature,
                    Hashing.sha256(signature),
                    Files.size(signature),
                    versionPrefix + ManifestSignatures.FILE);
            items.add(signatureItem);
        }
        Path manifestFile = dir.resolve(ImageStore.MANIFEST);
        UploadItem manifestItem = new UploadItem(
                ImageStore.MANIFEST,
                manifestFile,
                Hashing.sha256(manifestFile),
                Files.size(manifestFile),
                versionPrefix + ImageStore.MANIFEST);

        // 2. What is there already. This first call also checks the bucket, the credentials and the
        // region.
        Map<String, S3Object> existing =
                S3RemoteVersion.list(s3, dest, ref, versionPrefix, manifestItem, where, progress);
        if (existing.containsKey(manifestItem.key())) {
            int aborted = S3ObjectUploader.abortLeftovers(s3, dest, versionPrefix, where, List.of());
            int signed = 0;
            if (signatureItem != null && !existing.containsKey(signatureItem.key())) {
                // Signed after it was published: the signature joins the (unchanged) manifest.
                new S3ObjectUploader(
                                s3,
                                dest.bucket(),
                                where,
                                null,
                                new AtomicLong(),
                                signatureItem.size(),
                                Progress.SILENT.step("signature"),
                                listener,
                                partSize)
                        .upload(signatureItem);
                signed = 1;
            }
            for (UploadItem i : items) {
                if (signed == 0 || i != signatureItem) {
                    listener.objectSkipped(i.key());
                }
            }
            listener.objectSkipped(manifestItem.key());
            record(dir, ref, dest, items, manifestItem);
            return new Result(
                    dest.url(ref),
                    signed,
                    items.size() + 1 - signed,
                    signed == 0 ? 0 : signatureItem.size(),
                    true,
                    aborted);
        }

        // 3. Skip what is complete with the right content; refuse what holds something else.
        List<UploadItem> todo = new ArrayList<>();
        int skipped = 0;
        for (UploadItem i : items) {
            if (existing.containsKey(i.key())) {
                if (S3RemoteVersion.matches(s3, dest.bucket(), i, where)) {
                    skipped++;
                    listener.objectSkipped(i.key());
                    continue;
                }
                throw new PublishException(dest.url(ref)
                        + i.rel()
                        + " exists with other content than the local "
                        + ref
                        + " (a different build of this version was partly published there); versions are immutable,"
                        + " kiln does not overwrite it: remove "
                        + dest.url(ref)
                        + " (it has no manifest yet, so no reader"
                        + " uses it) or publish under another prefix");
            }
            todo.add(i);
        }

        long total = todo.stream().mapToLong(UploadItem::size).sum() + manifestItem.size();
        AtomicLong sent = new AtomicLong();
        int uploaded = 0;
        List<String> completedUploads = new ArrayList<>();
        try (Progress.Step step = progress.step(String.format(
                "upload %d of %d objects (%s) to %s",
                todo.size() + 1, items.size() + 1, human(total), dest.url(ref)))) {
            ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
                Thread t = new Thread(r, "kiln-s3-upload");
                t.setDaemon(true);
                return t;
            });
            try {
                S3ObjectUploader up =
                        new S3ObjectUploader(s3, dest.bucket(), where, pool, sent, total, step, listener, partSize);
                // 4. Artifacts first, in parallel: small ones whole, big ones as multipart uploads
                //    whose parts go up in parallel too ...
                List<Future<String>> small = new ArrayList<>();
                List<S3ObjectUploader.Multipart> big = new ArrayList<>();
                for (UploadItem i : todo) {
                    if (i.size() < multipartThreshold) {
                        small.add(pool.submit(() -> up.upload(i)));
                    }
                }
                for (UploadItem i : todo) {
                    if (i.size() >= multipartThreshold) {
                        big.add(up.startMultipart(i));
                    }
                }
                for (Future<String> f : small) {
                    S3ObjectUploader.await(f, pool);
                    uploaded++;
                }
                for (S3ObjectUploader.Multipart m : big) {
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
        int aborted = S3ObjectUploader.abortLeftovers(s3, dest, versionPrefix, where, completedUploads);
        record(dir, ref, dest, items, manifestItem);
        return new Result(dest.url(ref), uploaded, skipped, sent.get(), false, aborted);
    }

    /** Notes the complete copy in published.json, next to the manifest. */
    private void record(Path dir, ImageRef ref, S3Location dest, List<UploadItem> items, UploadItem manifestItem)
            throws IOException {
        long bytes = items.stream().mapToLong(UploadItem::size).sum() + manifestItem.size();
        String endpoint = clients.settings().endpoint() == null
                ? null
                : clients.settings().endpoint().toString();
        Published.update(
                dir,
                ref.toString(),
                p -> p.withS3(new Published.S3Copy(dest.url(ref), endpoint, now(), items.size() + 1, bytes)));
    }

    private static String human(long bytes) {
        return bytes >= MIB ? String.format("%.1f MiB", bytes / (double) MIB) : bytes + " bytes";
    }

    static String now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    }
}
