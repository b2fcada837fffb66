package dev.kiln.aws;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ebs.model.ChecksumAggregationMethod;
import software.amazon.awssdk.services.ebs.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.ebs.model.ResourceNotFoundException;

/**
 * Writes a raw disk into a pending EBS snapshot through the EBS direct APIs: the file is read in
 * 512 KiB blocks, all-zero blocks are skipped (a fresh snapshot reads as zeros; Java has no
 * SEEK_DATA, so holes are read and tested, which the kernel makes cheap), the others go up in
 * parallel with their SHA-256, and CompleteSnapshot seals it with the count of written blocks and
 * the linear aggregate checksum (SHA-256 over the blocks' digests in block order).
 */
final class SnapshotUploader {
    /**
     * The EBS direct APIs' block: block indexes are offset / 524288 (AWS documents the unit as
     * fixed). StartSnapshot also reports a BlockSize, which kiln does not trust over the documented
     * unit: it keeps 512 KiB blocks everywhere.
     */
    static final int BLOCK = 512 * 1024;

    private static final byte[] ZEROS = new byte[BLOCK];

    private final EbsClient ebs;
    private final int workers;
    private final PublishListener listener;

    SnapshotUploader(EbsClient ebs, int workers, PublishListener listener) {
        this.ebs = ebs;
        this.workers = Math.max(1, workers);
        this.listener = listener;
    }

    record Result(int changedBlocks, long totalBlocks, String aggregateChecksum, long bytesSent) {}

    /**
     * Writes every non-zero block of {@code disk} into {@code snapshotId} (pending) and completes
     * it. {@code fresh}: the snapshot was just started, so "not found" answers are the service
     * catching up and are retried for a while (a resumed snapshot that is not found is really
     * gone).
     */
    Result upload(Path disk, String snapshotId, boolean fresh, Progress.Step step) throws IOException {
        long size = java.nio.file.Files.size(disk);
        long blocks = (size + BLOCK - 1) / BLOCK;
        Map<Integer, byte[]> digests = new TreeMap<>();
        AtomicLong sent = new AtomicLong();
        AtomicLong processed = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "kiln-ebs-block");
            t.setDaemon(true);
            return t;
        });
        // At most 2 blocks per worker in memory: reading waits for uploads, not the reverse.
        Semaphore inFlight = new Semaphore(workers * 2);
        List<Future<?>> futures = new ArrayList<>();
        long started = System.nanoTime();
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
            for (long b = 0; b < blocks; b++) {
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("publish interrupted");
                }
                byte[] data = new byte[BLOCK]; // the last block of a file that is not a 512 KiB multiple
                // is zero-padded
                ByteBuffer buf = ByteBuffer.wrap(data);
                long offset = b * BLOCK;
                while (buf.hasRemaining() && offset + buf.position() < size) {
                    if (ch.read(buf, offset + buf.position()) < 0) {
                        break;
                    }
                }
                if (Arrays.mismatch(data, ZEROS) < 0) {
                    progress(step, processed.incrementAndGet(), blocks, sent.get(), started);
                    continue;
                }
                int index = Math.toIntExact(b);
                inFlight.acquire();
                futures.add(pool.submit(() -> {
                    try {
                        byte[] digest = Hashing.sha256Digest().digest(data);
                        put(snapshotId, index, data, digest, fresh);
                        synchronized (digests) {
                            digests.put(index, digest);
                        }
                        sent.addAndGet(BLOCK);
                        listener.blockUploaded(snapshotId, index);
                        progress(step, processed.incrementAndGet(), blocks, sent.get(), started);
                        return null;
                    } finally {
                        inFlight.release();
                    }
                }));
                // Fail fast: a failed block stops the reading.
                if (futures.size() % 64 == 0) {
                    for (Future<?> f : futures) {
                        if (f.isDone()) {
                            Tasks.result(f);
                        }
                    }
                }
            }
            for (Future<?> f : futures) {
                Tasks.result(f);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("publish interrupted");
        } finally {
            pool.shutdownNow();
        }

        MessageDigest aggregate = Hashing.sha256Digest();
        digests.values().forEach(aggregate::update);
        String checksum = Base64.getEncoder().encodeToString(aggregate.digest());
        int changed = digests.size();
        try {
            ebs.completeSnapshot(r -> r.snapshotId(snapshotId)
                    .changedBlocksCount(changed)
                    .checksum(checksum)
                    .checksumAlgorithm(ChecksumAlgorithm.SHA256)
                    .checksumAggregationMethod(ChecksumAggregationMethod.LINEAR));
        } catch (SdkException e) {
            throw new BlockException("completing snapshot " + snapshotId, e);
        }
        return new Result(changed, blocks, checksum, sent.get());
    }

    private static void progress(Progress.Step step, long done, long total, long sent, long started) {
        step.fraction(total == 0 ? 1 : done / (double) total);
        double secs = (System.nanoTime() - started) / 1e9;
        if (secs > 0.5) {
            step.detail(String.format(
                    "%d/%d blocks, %.0f MiB sent, %.1f MiB/s", done, total, sent / 1048576.0, sent / 1048576.0 / secs));
        }
    }

    private void put(String snapshotId, int index, byte[] data, byte[] digest, boolean fresh) throws IOException {
        String checksum = Base64.getEncoder().encodeToString(digest);
        for (int attempt = 1; ; attempt++) {
            try {
                ebs.putSnapshotBlock(
                        r -> r.snapshotId(snapshotId)
                                .blockIndex(index)
                                .dataLength(BLOCK)
                                .checksum(checksum)
                                .checksumAlgorithm(ChecksumAlgorithm.SHA256),
                        RequestBody.fromContentProvider(
                                () -> new java.io.ByteArrayInputStream(data), BLOCK, "application/octet-stream"));
                return;
            } catch (ResourceNotFoundException e) {
                // Right after StartSnapshot the snapshot may not be visible to block writes yet.
                if (!fresh || attempt >= 8) {
                    throw new BlockException("writing block " + index + " of snapshot " + snapshotId, e);
                }
                sleep(1000L * attempt);
            } catch (SdkException e) {
                throw new BlockException("writing block " + index + " of snapshot " + snapshotId, e);
            }
        }
    }

    private static void sleep(long ms) throws InterruptedIOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("publish interrupted");
        }
    }

    /**
     * A failed EBS direct API call, with what it was doing and the SDK exception kept for the
     * caller.
     */
    static final class BlockException extends IOException {
        final String doing;
        final SdkException sdk;

        BlockException(String doing, SdkException e) {
            super(doing + ": " + e.getMessage(), e);
            this.doing = doing;
            this.sdk = e;
        }
    }
}
