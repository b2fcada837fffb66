package dev.kiln.aws;

import static dev.kiln.aws.AwsCall.call;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ebs.model.StartSnapshotResponse;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Snapshot;
import software.amazon.awssdk.services.ec2.model.SnapshotState;
import software.amazon.awssdk.services.ec2.model.Tag;

/**
 * The EBS snapshots of image versions in one region, found by their {@code kiln:name} and {@code
 * kiln:version} tags. A snapshot is written through {@link SnapshotUploader} tagged {@code
 * kiln:state=uploading}, and tagged {@code complete} once EBS says it is: that tag is what a re-run
 * trusts. A crashed run's unfinished snapshot is written again and completed; one in error is
 * deleted.
 */
final class SnapshotStore {
    /**
     * The snapshot a run wrote, and what its upload did (null: an earlier run had completed it).
     */
    record Written(String snapshotId, SnapshotUploader.Result result) {}

    private final Ec2Region at;
    private final EbsClient ebs;
    private final int workers;
    private final Waiter waiter;
    private final Progress progress;
    private final Created created;

    SnapshotStore(Ec2Region at, EbsClient ebs, int workers, Waiter waiter, Progress progress, Created created) {
        this.at = at;
        this.ebs = ebs;
        this.workers = workers;
        this.waiter = waiter;
        this.progress = progress;
        this.created = created;
    }

    /** A complete snapshot of this version, if an earlier run finished one; else null. */
    Snapshot findComplete(ImageRef ref) throws PublishException {
        for (Snapshot s : ofVersion(ref)) {
            if (KilnTags.STATE_COMPLETE.equals(KilnTags.value(s.tags(), KilnTags.STATE))
                    && s.state() == SnapshotState.COMPLETED) {
                return s;
            }
        }
        return null;
    }

    /**
     * Writes the disk into a snapshot: the pending one a crashed run left (PutSnapshotBlock
     * overwrites blocks, so writing every block again and completing it is safe), else a new one.
     * Snapshots of this version in error are deleted first.
     */
    Written write(ImageRef ref, Manifest m, Path disk, List<Tag> tags) throws IOException {
        Snapshot unfinished = null;
        for (Snapshot s : ofVersion(ref)) {
            if (s.state() == SnapshotState.ERROR || unfinished != null) {
                // In error (a crashed run's snapshot timed out, or its checksum failed), or a
                // second
                // unfinished one: it can never be used, and would be a duplicate.
                delete(s.snapshotId());
            } else if (!KilnTags.STATE_COMPLETE.equals(KilnTags.value(s.tags(), KilnTags.STATE))) {
                unfinished = s;
            }
        }
        if (unfinished != null) {
            Written w = resume(unfinished.snapshotId(), m, disk, tags);
            if (w != null) {
                return w;
            }
        }
        return writeNew(m, disk, tags);
    }

    /** Writes into a crashed run's snapshot; null when it cannot be used (then it is deleted). */
    private Written resume(String id, Manifest m, Path disk, List<Tag> tags) throws IOException {
        try (Progress.Step step = progress.step("write " + disk.getFileName() + " into unfinished snapshot " + id)) {
            try {
                SnapshotUploader.Result r = uploader().upload(disk, id, false, step);
                markComplete(id, tags, step);
                return new Written(id, r);
            } catch (SnapshotUploader.BlockException e) {
                if (!AwsErrorCode.refused(e.sdk)) {
                    // Network, service or permission trouble: the snapshot may be fine; keep it for
                    // the next run.
                    step.failed();
                    throw AwsErrors.explain(e.sdk, "writing into snapshot " + id, at.where());
                }
                // Refused: not writable any more. Completed by the crashed run after all (then it
                // is good: CompleteSnapshot checked the block count and checksum), else unusable.
                Snapshot now = describe(id);
                if (now != null && now.state() == SnapshotState.COMPLETED) {
                    step.detail("it was completed by the earlier run");
                    markComplete(id, tags, step);
                    return new Written(id, null);
                }
                step.detail("cannot resume it (" + e.getMessage() + "); starting over");
                if (now != null) {
                    delete(id);
                }
                return null;
            }
        }
    }

    private Written writeNew(Manifest m, Path disk, List<Tag> tags) throws IOException {
        long gib = VolumeSize.snapshotGib(Files.size(disk));
        try (Progress.Step step = progress.step(
                String.format("write %s (%d GiB) into a new EBS snapshot, %s", disk.getFileName(), gib, at.where()))) {
            List<software.amazon.awssdk.services.ebs.model.Tag> ebsTags = new ArrayList<>();
            for (Tag t : KilnTags.limit(KilnTags.withState(tags, KilnTags.STATE_UPLOADING))) {
                ebsTags.add(software.amazon.awssdk.services.ebs.model.Tag.builder()
                        .key(t.key())
                        .value(t.value())
                        .build());
            }
            StartSnapshotResponse started = call(
                    step,
                    "starting an EBS snapshot (EBS direct APIs)",
                    at.where(),
                    () -> ebs.startSnapshot(b -> b.volumeSize(gib).tags(ebsTags).description(KilnTags.description(m))));
            String id = started.snapshotId();
            created.add("snapshot", at.region().id(), id);
            if (started.blockSize() != null && started.blockSize() != SnapshotUploader.BLOCK) {
                // Block indexes are defined in 512 KiB units whatever BlockSize says.
                step.detail("service reports BlockSize " + started.blockSize() + "; writing 512 KiB blocks");
            }
            SnapshotUploader.Result r;
            try {
                r = uploader().upload(disk, id, true, step);
            } catch (SnapshotUploader.BlockException e) {
                step.failed();
                throw AwsErrors.explain(e.sdk, e.doing, at.where());
            }
            markComplete(id, tags, step);
            return new Written(id, r);
        }
    }

    private SnapshotUploader uploader() {
        return new SnapshotUploader(ebs, workers, created.listener());
    }

    /**
     * Waits for the completed snapshot and tags it kiln:state=complete (the tag a re-run trusts).
     */
    void markComplete(String id, List<Tag> tags, Progress.Step step) throws IOException {
        step.detail("waiting for " + id + " to complete");
        try {
            waiter.until("snapshot " + id + " to complete", null, () -> {
                Snapshot s = describe(id);
                if (s == null) {
                    throw new PublishException("snapshot " + id + " vanished while completing (" + at.where() + ")");
                }
                if (s.state() == SnapshotState.ERROR) {
                    throw new PublishException("snapshot "
                            + id
                            + " failed: "
                            + s.stateMessage()
                            + " (a re-run deletes it and writes a new one)");
                }
                return s.state() == SnapshotState.COMPLETED ? s : null;
            });
        } catch (IOException e) {
            step.failed();
            throw e;
        }
        List<Tag> complete = KilnTags.limit(KilnTags.withState(tags, KilnTags.STATE_COMPLETE));
        call(
                step,
                "tagging " + id,
                at.where(),
                () -> at.ec2().createTags(b -> b.resources(id).tags(complete)));
    }

    /** Deletes a snapshot that can never be used; one already gone is fine. */
    void delete(String id) throws PublishException {
        try (Progress.Step step = progress.step("delete unusable snapshot " + id)) {
            try {
                at.ec2().deleteSnapshot(b -> b.snapshotId(id));
            } catch (SdkException e) {
                if (!AwsErrorCode.SNAPSHOT_NOT_FOUND.matches(e)) {
                    step.failed();
                    throw AwsErrors.explain(e, "deleting snapshot " + id, at.where());
                }
            }
        }
    }

    /** This version's snapshots, oldest first. */
    private List<Snapshot> ofVersion(ImageRef ref) throws PublishException {
        try {
            List<Snapshot> all = new ArrayList<>();
            at.ec2()
                    .describeSnapshotsPaginator(b -> b.ownerIds("self")
                            .filters(
                                    Filter.builder()
                                            .name("tag:" + KilnTags.NAME)
                                            .values(ref.name())
                                            .build(),
                                    Filter.builder()
                                            .name("tag:" + KilnTags.VERSION)
                                            .values(ref.version())
                                            .build()))
                    .snapshots()
                    .forEach(all::add);
            all.sort(Comparator.comparing(Snapshot::startTime, Comparator.nullsFirst(Comparator.naturalOrder())));
            return all;
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "looking for snapshots of " + ref, at.where());
        }
    }

    private Snapshot describe(String id) throws PublishException {
        try {
            List<Snapshot> s =
                    at.ec2().describeSnapshots(b -> b.snapshotIds(id)).snapshots();
            return s.isEmpty() ? null : s.get(0);
        } catch (SdkException e) {
            if (AwsErrorCode.SNAPSHOT_NOT_FOUND.matches(e)) {
                return null;
            }
            throw AwsErrors.explain(e, "reading snapshot " + id, at.where());
        }
    }
}
