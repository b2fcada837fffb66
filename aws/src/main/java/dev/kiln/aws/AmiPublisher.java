package dev.kiln.aws;

import dev.kiln.core.store.Published;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ebs.model.StartSnapshotResponse;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.ArchitectureValues;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.BootModeValues;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.ImdsSupportValues;
import software.amazon.awssdk.services.ec2.model.LaunchPermission;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.Snapshot;
import software.amazon.awssdk.services.ec2.model.SnapshotState;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.VolumeType;
import software.amazon.awssdk.services.ssm.SsmClient;
import software.amazon.awssdk.services.ssm.model.ParameterType;

/**
 * Publishes a version's {@code disk/disk.raw} as an AMI: an EBS snapshot written through the EBS
 * direct APIs (no S3 staging, no ImportSnapshot, no builder instance), RegisterImage, CopyImage
 * to more regions, launch permissions, and an SSM parameter per image name pointing at the newest
 * published AMI (as EKS publishes its recommended image ids).
 *
 * <p>Idempotent: everything it creates carries the tags {@code kiln:name} and {@code kiln:version}
 * (the snapshot also {@code kiln:state}: uploading, then complete), and AMI names are
 * {@code kiln/NAME/VERSION}, unique per region. A re-run finds what an earlier (crashed) run made
 * and goes on from there: a complete snapshot or an AMI is reused, a snapshot still pending is
 * written again and completed, one in error is deleted and redone. Nothing is made twice.
 */
public final class AmiPublisher {
    public static final String TAG_NAME = "kiln:name";
    public static final String TAG_VERSION = "kiln:version";
    public static final String TAG_STATE = "kiln:state";
    public static final String STATE_UPLOADING = "uploading";
    public static final String STATE_COMPLETE = "complete";
    static final String TAG_BUILT_AT = "kiln:built-at";
    static final long GIB = 1L << 30;
    /** EC2 allows 50 tags per resource. */
    private static final int MAX_TAGS = 50;

    private final AwsClients clients;
    private final Progress progress;
    private final PublishListener listener;
    private int workers = 16;
    private Waiter waiter;

    public AmiPublisher(AwsClients clients, Progress progress, PublishListener listener) {
        this.clients = clients;
        this.progress = progress;
        this.listener = listener;
        this.waiter = new Waiter(Duration.ofSeconds(10), Duration.ofMinutes(90), progress);
    }

    /** Parallel block uploads. Default 16. */
    public AmiPublisher workers(int n) {
        this.workers = Math.max(1, n);
        return this;
    }

    /** How often and how long to wait for snapshots and images to become ready. */
    public AmiPublisher polling(Duration interval, Duration timeout) {
        this.waiter = new Waiter(interval, timeout, progress);
        return this;
    }

    /**
     * @param region       home region (null: the configured one)
     * @param copyTo       more regions to copy the AMI to
     * @param shareWith    AWS account ids given launch permission
     * @param ssmParameter the parameter to point at the AMI in every region; null for
     *                     {@code /kiln/images/NAME/latest}, empty for none
     * @param volumeSizeGib the AMI's default root volume size in GiB (instances grow their root into
     *                     it at first boot), at least the snapshot's; null for the snapshot's size
     */
    public record Options(String region, List<String> copyTo, List<String> shareWith, String ssmParameter,
                          Integer volumeSizeGib) {
        public Options(String region, List<String> copyTo, List<String> shareWith, String ssmParameter) {
            this(region, copyTo, shareWith, ssmParameter, null);
        }
    }

    /** What a publish left: AMI id per region, and what it had to do. */
    public record Result(Map<String, String> images, String snapshotId, String ssmParameter, boolean snapshotWritten,
                         int blocksWritten, long bytesSent, long diskBytes, List<String> created) { }

    public static String defaultSsmParameter(String imageName) {
        return "/kiln/images/" + imageName + "/latest";
    }

    /** AMI names: 3-128 of letters, digits, ()[] ./-'@_ and unique per account and region. */
    public static String amiName(ImageRef ref) {
        return ("kiln/" + ref.name() + "/" + ref.version()).replaceAll("[^A-Za-z0-9()\\[\\] ./\\-'@_]", "_");
    }

    public Result publish(ImageStore store, ImageRef ref, Options o) throws IOException {
        Manifest m = store.manifest(ref);
        Path dir = store.dir(ref);
        Path disk = dir.resolve("disk/disk.raw");
        if (!Files.isRegularFile(disk)) {
            throw new PublishException(ref + " has no disk/disk.raw to make an AMI of (its spec's outputs must include 'disk')");
        }
        int volumeGib = VolumeSize.check(o.volumeSizeGib(), Files.size(disk));
        Region home = o.region() != null ? AwsSettings.checkRegion(o.region(), "--region") : clients.settings().homeRegion();
        List<Region> copies = new ArrayList<>();
        for (String r : o.copyTo() == null ? List.<String>of() : o.copyTo()) {
            Region c = AwsSettings.checkRegion(r, "--copy-to");
            if (!c.equals(home) && !copies.contains(c)) {
                copies.add(c);
            }
        }
        List<String> accounts = new ArrayList<>();
        for (String a : o.shareWith() == null ? List.<String>of() : o.shareWith()) {
            if (!a.trim().matches("\\d{12}")) {
                throw new PublishException("--share-with: '" + a + "' is not an AWS account id (12 digits)");
            }
            accounts.add(a.trim());
        }
        String ssmName = o.ssmParameter() == null ? defaultSsmParameter(ref.name()) : o.ssmParameter();
        String endpoint = clients.settings().endpoint() == null ? null : clients.settings().endpoint().toString();
        String where = "region " + home.id() + (endpoint != null ? " (endpoint " + endpoint + ")" : "");
        Ec2Client ec2 = clients.ec2(home);
        String name = amiName(ref);
        List<Tag> tags = tags(m);
        List<String> created = new ArrayList<>();

        // 0. Credentials, region and the copy regions, before anything is made.
        try (Progress.Step step = progress.step("check AWS account, " + where)) {
            Set<String> enabled = new LinkedHashSet<>();
            call(step, "listing the account's regions", where, () -> ec2.describeRegions(b -> b.allRegions(false)))
                    .regions().forEach(r -> enabled.add(r.regionName()));
            for (Region c : copies) {
                if (!enabled.isEmpty() && !enabled.contains(c.id())) {
                    step.failed();
                    throw new PublishException("--copy-to " + c.id() + ": the region is not enabled for this account"
                            + " (opt-in regions must be enabled first); enabled: " + String.join(", ", enabled));
                }
            }
            if (!enabled.isEmpty() && !enabled.contains(home.id())) {
                step.failed();
                throw new PublishException("region " + home.id() + " is not enabled for this account; enabled: "
                        + String.join(", ", enabled));
            }
        }

        // 1. The AMI in the home region, or the snapshot to make it from.
        Map<String, String> images = new LinkedHashMap<>();
        Image image = findImage(ec2, ref, name, where);
        String snapshotId;
        SnapshotUploader.Result written = null;
        if (image != null) {
            // Ours by its tags first (moto describes an auto-made snapshot as the image's root); AWS agrees.
            Snapshot done = findCompleteSnapshot(ec2, ref, where);
            snapshotId = done != null ? done.snapshotId() : rootSnapshot(image);
        } else {
            Snapshot done = findCompleteSnapshot(ec2, ref, where);
            if (done != null) {
                snapshotId = done.snapshotId();
            } else {
                Written w = writeSnapshot(ref, m, disk, home, ec2, tags, where, created);
                snapshotId = w.snapshotId();
                written = w.result();
            }
            image = register(ec2, ref, m, name, snapshotId, volumeGib, tags, where, created);
        }
        String homeImage = image.imageId();
        images.put(home.id(), homeImage);
        waitForImage(ec2, homeImage, where);
        share(ec2, homeImage, accounts, where);
        final String snap = snapshotId;
        Published.update(dir, ref.toString(), p -> p.withAmi(new Published.Ami(home.id(), homeImage, snap, name, null,
                accounts, null, endpoint, S3Publisher.now())));

        // 2. Copies: start them all, then wait for each (they run in parallel on AWS's side).
        Map<Region, String> copyIds = new LinkedHashMap<>();
        for (Region c : copies) {
            Ec2Client dst = clients.ec2(c);
            String cw = "region " + c.id();
            Image there = findImage(dst, ref, name, cw);
            String id;
            if (there != null) {
                id = there.imageId();
            } else {
                try (Progress.Step step = progress.step("copy " + homeImage + " to " + c.id())) {
                    String token = "kiln-" + Hashing.sha256(ref + "/" + homeImage + "/" + c.id()).substring(0, 32);
                    id = call(step, "copying " + homeImage + " to " + c.id(), cw, () -> dst.copyImage(b -> b
                            .sourceImageId(homeImage).sourceRegion(home.id()).name(name)
                            .description(description(m)).clientToken(token)
                            .copyImageTags(true))).imageId();
                    List<Tag> copyTags = new ArrayList<>(tags);
                    copyTags.add(tag("kiln:copied-from", home.id() + "/" + homeImage));
                    // CopyImage's tags are not honoured everywhere (moto ignores them): tag explicitly.
                    call(step, "tagging " + id, cw, () -> dst.createTags(b -> b.resources(id).tags(limit(copyTags))));
                    created.add(id);
                    listener.created("image-copy", c.id(), id);
                }
            }
            copyIds.put(c, id);
        }
        for (Map.Entry<Region, String> e : copyIds.entrySet()) {
            Ec2Client dst = clients.ec2(e.getKey());
            String cw = "region " + e.getKey().id();
            waitForImage(dst, e.getValue(), cw);
            tagCopySnapshots(dst, e.getValue(), tags, cw);
            share(dst, e.getValue(), accounts, cw);
            images.put(e.getKey().id(), e.getValue());
            Published.update(dir, ref.toString(), p -> p.withAmi(new Published.Ami(e.getKey().id(), e.getValue(), null,
                    name, home.id(), accounts, null, endpoint, S3Publisher.now())));
        }

        // 3. The SSM parameter in every region points at the newest published version's AMI.
        if (!ssmName.isEmpty()) {
            for (Map.Entry<String, String> e : images.entrySet()) {
                Region r = Region.of(e.getKey());
                if (pointParameter(clients.ssm(r), clients.ec2(r), ssmName, e.getValue(), m, "region " + r.id())) {
                    String imageId = e.getValue();
                    Published.update(dir, ref.toString(), p -> {
                        for (Published.Ami a : p.amis()) {
                            if (a.region().equals(r.id()) && imageId.equals(a.imageId())) {
                                return p.withAmi(new Published.Ami(a.region(), a.imageId(), a.snapshotId(), a.name(),
                                        a.copiedFrom(), a.sharedWith(), ssmName, a.endpoint(), a.publishedAt()));
                            }
                        }
                        return p;
                    });
                }
            }
        }
        return new Result(images, snapshotId, ssmName.isEmpty() ? null : ssmName, written != null,
                written == null ? 0 : written.changedBlocks(), written == null ? 0 : written.bytesSent(),
                Files.size(disk), created);
    }

    // ---------------------------------------------------------------- snapshot

    private record Written(String snapshotId, SnapshotUploader.Result result) { }

    private List<Snapshot> snapshots(Ec2Client ec2, ImageRef ref, String where) throws PublishException {
        try {
            List<Snapshot> all = new ArrayList<>();
            ec2.describeSnapshotsPaginator(b -> b.ownerIds("self").filters(
                    Filter.builder().name("tag:" + TAG_NAME).values(ref.name()).build(),
                    Filter.builder().name("tag:" + TAG_VERSION).values(ref.version()).build()))
                    .snapshots().forEach(all::add);
            all.sort(Comparator.comparing(Snapshot::startTime, Comparator.nullsFirst(Comparator.naturalOrder())));
            return all;
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "looking for snapshots of " + ref, where);
        }
    }

    static String tagValue(List<Tag> tags, String key) {
        for (Tag t : tags) {
            if (t.key().equals(key)) {
                return t.value();
            }
        }
        return null;
    }

    /** A complete snapshot of this version, if an earlier run finished one. */
    private Snapshot findCompleteSnapshot(Ec2Client ec2, ImageRef ref, String where)
            throws PublishException {
        for (Snapshot s : snapshots(ec2, ref, where)) {
            if (STATE_COMPLETE.equals(tagValue(s.tags(), TAG_STATE)) && s.state() == SnapshotState.COMPLETED) {
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
    private Written writeSnapshot(ImageRef ref, Manifest m, Path disk, Region home, Ec2Client ec2, List<Tag> tags,
                                  String where, List<String> created) throws IOException {
        EbsClient ebs = clients.ebs(home);
        Snapshot resume = null;
        for (Snapshot s : snapshots(ec2, ref, where)) {
            if (s.state() == SnapshotState.ERROR || resume != null) {
                // In error (a crashed run's snapshot timed out, or its checksum failed), or a second
                // unfinished one: it can never be used, and would be a duplicate.
                delete(ec2, s.snapshotId(), where);
            } else if (!STATE_COMPLETE.equals(tagValue(s.tags(), TAG_STATE))) {
                resume = s;
            }
        }
        long size = Files.size(disk);
        long gib = Math.max(1, (size + GIB - 1) / GIB);
        if (resume != null) {
            String id = resume.snapshotId();
            try (Progress.Step step = progress.step("write " + disk.getFileName() + " into unfinished snapshot " + id)) {
                try {
                    SnapshotUploader.Result r = new SnapshotUploader(ebs, workers, listener).upload(disk, id, false, step);
                    finishSnapshot(ec2, id, m, tags, where, step);
                    return new Written(id, r);
                } catch (SnapshotUploader.BlockException e) {
                    if (!AwsErrorCode.refused(e.sdk)) {
                        // Network, service or permission trouble: the snapshot may be fine; keep it for the next run.
                        step.failed();
                        throw AwsErrors.explain(e.sdk, "writing into snapshot " + id, where);
                    }
                    // Refused: not writable any more. Completed by the crashed run after all (then it
                    // is good: CompleteSnapshot checked the block count and checksum), else unusable.
                    Snapshot now = describeSnapshot(ec2, id, where);
                    if (now != null && now.state() == SnapshotState.COMPLETED) {
                        step.detail("it was completed by the earlier run");
                        finishSnapshot(ec2, id, m, tags, where, step);
                        return new Written(id, null);
                    }
                    step.detail("cannot resume it (" + e.getMessage() + "); starting over");
                    if (now != null) {
                        delete(ec2, id, where);
                    }
                }
            }
        }
        try (Progress.Step step = progress.step(String.format("write %s (%d GiB) into a new EBS snapshot, %s",
                disk.getFileName(), gib, where))) {
            List<software.amazon.awssdk.services.ebs.model.Tag> ebsTags = new ArrayList<>();
            for (Tag t : limit(withState(tags, STATE_UPLOADING))) {
                ebsTags.add(software.amazon.awssdk.services.ebs.model.Tag.builder().key(t.key()).value(t.value()).build());
            }
            StartSnapshotResponse started = call(step, "starting an EBS snapshot (EBS direct APIs)", where,
                    () -> ebs.startSnapshot(b -> b.volumeSize(gib).tags(ebsTags).description(description(m))));
            String id = started.snapshotId();
            created.add(id);
            listener.created("snapshot", home.id(), id);
            if (started.blockSize() != null && started.blockSize() != SnapshotUploader.BLOCK) {
                // moto reports 512; AWS 524288. Block indexes are defined in 512 KiB units either way.
                step.detail("service reports BlockSize " + started.blockSize() + "; writing 512 KiB blocks");
            }
            SnapshotUploader.Result r;
            try {
                r = new SnapshotUploader(ebs, workers, listener).upload(disk, id, true, step);
            } catch (SnapshotUploader.BlockException e) {
                step.failed();
                throw AwsErrors.explain(e.sdk, e.doing, where);
            }
            finishSnapshot(ec2, id, m, tags, where, step);
            return new Written(id, r);
        }
    }

    /** Waits for the completed snapshot and marks it complete (the tag a re-run trusts). */
    private void finishSnapshot(Ec2Client ec2, String id, Manifest m, List<Tag> tags, String where, Progress.Step step)
            throws IOException {
        step.detail("waiting for " + id + " to complete");
        try {
            waiter.until("snapshot " + id + " to complete", null, () -> {
                Snapshot s = describeSnapshot(ec2, id, where);
                if (s == null) {
                    throw new PublishException("snapshot " + id + " vanished while completing (" + where + ")");
                }
                if (s.state() == SnapshotState.ERROR) {
                    throw new PublishException("snapshot " + id + " failed: " + s.stateMessage()
                            + " (a re-run deletes it and writes a new one)");
                }
                return s.state() == SnapshotState.COMPLETED ? s : null;
            });
        } catch (IOException e) {
            step.failed();
            throw e;
        }
        call(step, "tagging " + id, where, () -> ec2.createTags(b -> b.resources(id).tags(limit(withState(tags, STATE_COMPLETE)))));
    }

    private Snapshot describeSnapshot(Ec2Client ec2, String id, String where) throws PublishException {
        try {
            List<Snapshot> s = ec2.describeSnapshots(b -> b.snapshotIds(id)).snapshots();
            return s.isEmpty() ? null : s.get(0);
        } catch (SdkException e) {
            if (AwsErrorCode.SNAPSHOT_NOT_FOUND.matches(e)) {
                return null;
            }
            throw AwsErrors.explain(e, "reading snapshot " + id, where);
        }
    }

    private void delete(Ec2Client ec2, String id, String where) throws PublishException {
        try (Progress.Step step = progress.step("delete unusable snapshot " + id)) {
            try {
                ec2.deleteSnapshot(b -> b.snapshotId(id));
            } catch (SdkException e) {
                if (!AwsErrorCode.SNAPSHOT_NOT_FOUND.matches(e)) {
                    step.failed();
                    throw AwsErrors.explain(e, "deleting snapshot " + id, where);
                }
            }
        }
    }

    // ---------------------------------------------------------------- image

    /** The AMI of this version in a region: by its tags, or by its name (a run that crashed before tagging it). */
    private Image findImage(Ec2Client ec2, ImageRef ref, String name, String where) throws PublishException {
        try {
            Map<String, Image> found = new LinkedHashMap<>();
            ec2.describeImages(b -> b.owners("self").filters(
                    Filter.builder().name("tag:" + TAG_NAME).values(ref.name()).build(),
                    Filter.builder().name("tag:" + TAG_VERSION).values(ref.version()).build()))
                    .images().forEach(i -> found.put(i.imageId(), i));
            ec2.describeImages(b -> b.owners("self").filters(Filter.builder().name("name").values(name).build()))
                    .images().forEach(i -> found.put(i.imageId(), i));
            List<Image> usable = new ArrayList<>();
            for (Image i : found.values()) {
                switch (i.stateAsString()) {
                    case "available", "pending" -> usable.add(i);
                    case "failed", "error", "invalid" -> {
                        try (Progress.Step step = progress.step("deregister failed image " + i.imageId() + " (" + where + ")")) {
                            ec2.deregisterImage(b -> b.imageId(i.imageId()));
                        }
                    }
                    default -> { }
                }
            }
            usable.sort(Comparator.comparing(Image::creationDate, Comparator.nullsLast(Comparator.naturalOrder())));
            return usable.isEmpty() ? null : usable.get(0);
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "looking for the AMI of " + ref, where);
        }
    }

    private static String rootSnapshot(Image image) {
        for (BlockDeviceMapping bdm : image.blockDeviceMappings()) {
            if (bdm.ebs() != null && bdm.ebs().snapshotId() != null
                    && (image.rootDeviceName() == null || image.rootDeviceName().equals(bdm.deviceName()))) {
                return bdm.ebs().snapshotId();
            }
        }
        return null;
    }

    private Image register(Ec2Client ec2, ImageRef ref, Manifest m, String name, String snapshotId, int gib,
                           List<Tag> tags, String where, List<String> created) throws IOException {
        try (Progress.Step step = progress.step("register AMI " + name + " from " + snapshotId)) {
            String id;
            try {
                id = ec2.registerImage(b -> b.name(name).description(description(m))
                        .architecture(ArchitectureValues.X86_64)
                        .virtualizationType("hvm")
                        .enaSupport(true)
                        .bootMode(BootModeValues.UEFI_PREFERRED)
                        .imdsSupport(ImdsSupportValues.V2_0)
                        .rootDeviceName("/dev/xvda")
                        .blockDeviceMappings(BlockDeviceMapping.builder().deviceName("/dev/xvda")
                                .ebs(e -> e.snapshotId(snapshotId).volumeType(VolumeType.GP3).volumeSize(gib)
                                        .deleteOnTermination(true))
                                .build())
                        .tagSpecifications(t -> t.resourceType(ResourceType.IMAGE).tags(limit(tags)))).imageId();
            } catch (SdkException e) {
                if (AwsErrorCode.AMI_NAME_DUPLICATE.matches(e)) { // registered concurrently, or untagged by a crash
                    Image there = findImage(ec2, ref, name, where);
                    if (there != null) {
                        return there;
                    }
                }
                step.failed();
                throw AwsErrors.explain(e, "registering AMI " + name, where);
            }
            created.add(id);
            listener.created("image", where, id);
            // RegisterImage tags atomically on AWS; moto ignores TagSpecifications. Tagging again is harmless.
            call(step, "tagging " + id, where, () -> ec2.createTags(b -> b.resources(id).tags(limit(tags))));
            return ec2.describeImages(b -> b.imageIds(id)).images().get(0);
        }
    }

    private void waitForImage(Ec2Client ec2, String id, String where) throws IOException {
        waiter.until("image " + id + " to become available", "wait for image " + id + " to become available (" + where + ")", () -> {
            List<Image> imgs = call(null, "reading image " + id, where, () -> ec2.describeImages(b -> b.imageIds(id))).images();
            String state = imgs.isEmpty() ? "missing" : imgs.get(0).stateAsString();
            if (!state.equals("available") && !state.equals("pending") && !state.equals("missing")) {
                throw new PublishException("image " + id + " is " + state + " (" + where + ")"
                        + (imgs.isEmpty() || imgs.get(0).stateReason() == null ? "" : ": " + imgs.get(0).stateReason().message())
                        + "; a re-run deregisters it and tries again");
            }
            return state.equals("available") ? state : null;
        });
    }

    private void share(Ec2Client ec2, String imageId, List<String> accounts, String where) throws PublishException {
        if (accounts.isEmpty()) {
            return;
        }
        try (Progress.Step step = progress.step("share " + imageId + " with " + String.join(", ", accounts))) {
            List<LaunchPermission> add = accounts.stream().map(a -> LaunchPermission.builder().userId(a).build()).toList();
            call(step, "granting launch permission on " + imageId, where, () -> ec2.modifyImageAttribute(b -> b
                    .imageId(imageId).launchPermission(l -> l.add(add))));
        }
    }

    private void tagCopySnapshots(Ec2Client ec2, String imageId, List<Tag> tags, String where) throws PublishException {
        Image img = call(null, "reading image " + imageId, where, () -> ec2.describeImages(b -> b.imageIds(imageId))).images().get(0);
        String snap = rootSnapshot(img);
        if (snap != null) {
            List<Tag> t = withState(tags, STATE_COMPLETE);
            call(null, "tagging " + snap, where, () -> ec2.createTags(b -> b.resources(snap).tags(limit(t))));
        }
    }

    // ---------------------------------------------------------------- SSM

    /**
     * Points the parameter at {@code imageId} unless it points at an AMI of a newer build of this
     * image (publishing an old version again must not move "latest" back). Returns whether it
     * points at {@code imageId} now.
     */
    private boolean pointParameter(SsmClient ssm, Ec2Client ec2, String param, String imageId, Manifest m, String where)
            throws PublishException {
        try (Progress.Step step = progress.step("point SSM parameter " + param + " at " + imageId + " (" + where + ")")) {
            String current = null;
            try {
                current = ssm.getParameter(b -> b.name(param)).parameter().value();
            } catch (SdkException e) {
                if (!AwsErrorCode.PARAMETER_NOT_FOUND.matches(e)) {
                    step.failed();
                    throw AwsErrors.explain(e, "reading SSM parameter " + param, where);
                }
            }
            if (imageId.equals(current)) {
                return true;
            }
            if (current != null) {
                String other = current;
                try {
                    List<Image> imgs = ec2.describeImages(b -> b.imageIds(other)).images();
                    String builtAt = imgs.isEmpty() ? null : tagValue(imgs.get(0).tags(), TAG_BUILT_AT);
                    if (builtAt != null && m.builtAt() != null && builtAt.compareTo(m.builtAt()) > 0) {
                        step.detail("stays at " + other + ", built " + builtAt + ", newer than this version");
                        return false;
                    }
                } catch (SdkException e) {
                    // the AMI it points at is gone or not ours: point it at this one
                }
            }
            call(step, "writing SSM parameter " + param, where, () -> ssm.putParameter(b -> b.name(param).value(imageId)
                    .type(ParameterType.STRING).dataType("aws:ec2:image").overwrite(true)
                    .description("newest AMI of kiln image " + m.name() + " (" + m.version() + ")")));
            listener.created("ssm-parameter", where, param);
            return true;
        }
    }

    // ---------------------------------------------------------------- helpers

    private static String description(Manifest m) {
        String d = "kiln image " + m.ref() + (m.kernel() != null ? ", kernel " + m.kernel().release() : "");
        return d.length() > 255 ? d.substring(0, 255) : d;
    }

    static Tag tag(String key, String value) {
        String v = value == null ? "" : value;
        return Tag.builder().key(key).value(v.length() > 256 ? v.substring(0, 256) : v).build();
    }

    /** kiln:name, kiln:version, kiln:spec-hash, kiln:built-at, kernel and component versions. */
    static List<Tag> tags(Manifest m) {
        List<Tag> t = new ArrayList<>();
        t.add(tag("Name", m.name() + " " + m.version()));
        t.add(tag(TAG_NAME, m.name()));
        t.add(tag(TAG_VERSION, m.version()));
        t.add(tag("kiln:spec-hash", m.specSha256()));
        t.add(tag(TAG_BUILT_AT, m.builtAt()));
        if (m.kernel() != null) {
            t.add(tag("kiln:kernel", m.kernel().release()));
            if (m.kernel().version() != null) {
                t.add(tag("kiln:kernel-package", m.kernel().packageName() + "=" + m.kernel().version()));
            }
        }
        if (m.components() != null) {
            m.components().forEach((n, c) -> t.add(tag("kiln:component:" + n,
                    c.version() + (c.packageVersion() != null && !c.packageVersion().equals(c.version()) ? " (" + c.packageVersion() + ")" : ""))));
        }
        return t;
    }

    private static List<Tag> withState(List<Tag> tags, String state) {
        List<Tag> t = new ArrayList<>(tags);
        t.add(2, tag(TAG_STATE, state));
        return t;
    }

    /** EC2's 50-tag limit: the kiln: identity tags come first, component tags past the limit are left out. */
    private static List<Tag> limit(List<Tag> tags) {
        return tags.size() <= MAX_TAGS ? tags : tags.subList(0, MAX_TAGS);
    }

    private static <T> T call(Progress.Step step, String doing, String where, Supplier<T> call) throws PublishException {
        try {
            return call.get();
        } catch (SdkException e) {
            if (step != null) {
                step.failed();
            }
            throw AwsErrors.explain(e, doing, where);
        }
    }
}
