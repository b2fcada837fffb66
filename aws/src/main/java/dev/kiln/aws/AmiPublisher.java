package dev.kiln.aws;

import static dev.kiln.aws.AwsCall.call;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.Published;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.Snapshot;

/**
 * Publishes a version's {@code disk/disk.raw} as an AMI: an EBS snapshot written through the EBS
 * direct APIs (no S3 staging, no ImportSnapshot, no builder instance), RegisterImage, CopyImage to
 * more regions, launch permissions, and an SSM parameter per image name pointing at the newest
 * published AMI (as EKS publishes its recommended image ids).
 *
 * <p>Idempotent: everything it creates carries the tags {@code kiln:name} and {@code kiln:version}
 * (the snapshot also {@code kiln:state}: uploading, then complete), and AMI names are {@code
 * kiln/NAME/VERSION}, unique per region. A re-run finds what an earlier (crashed) run made and goes
 * on from there: a complete snapshot or an AMI is reused, a snapshot still pending is written again
 * and completed, one in error is deleted and redone. Nothing is made twice.
 *
 * <p>This class orders the steps and records them in published.json; {@link SnapshotStore}, {@link
 * ImageRegistrar} and {@link SsmImagePointer} do the work.
 */
public final class AmiPublisher {
    public static final String TAG_NAME = KilnTags.NAME;
    public static final String TAG_VERSION = KilnTags.VERSION;
    public static final String TAG_STATE = KilnTags.STATE;
    public static final String STATE_UPLOADING = KilnTags.STATE_UPLOADING;
    public static final String STATE_COMPLETE = KilnTags.STATE_COMPLETE;

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
     * @param region home region (null: the configured one)
     * @param copyTo more regions to copy the AMI to
     * @param shareWith AWS account ids given launch permission
     * @param ssmParameter the parameter to point at the AMI in every region; null for {@code
     *     /kiln/images/NAME/latest}, empty for none
     * @param volumeSizeGib the AMI's default root volume size in GiB (instances grow their root
     *     into it at first boot), at least the snapshot's; null for the snapshot's size
     */
    public record Options(
            String region, List<String> copyTo, List<String> shareWith, String ssmParameter, Integer volumeSizeGib) {
        public Options(String region, List<String> copyTo, List<String> shareWith, String ssmParameter) {
            this(region, copyTo, shareWith, ssmParameter, null);
        }
    }

    /** What a publish left: AMI id per region, and what it had to do. */
    public record Result(
            Map<String, String> images,
            String snapshotId,
            String ssmParameter,
            boolean snapshotWritten,
            int blocksWritten,
            long bytesSent,
            long diskBytes,
            List<String> created) {}

    public static String defaultSsmParameter(String imageName) {
        return SsmImagePointer.parameter(imageName, "latest");
    }

    /** AMI names: 3-128 of letters, digits, ()[] ./-'@_ and unique per account and region. */
    public static String amiName(ImageRef ref) {
        return ("kiln/" + ref.name() + "/" + ref.version()).replaceAll("[^A-Za-z0-9()\\[\\] ./\\-'@_]", "_");
    }

    /** The options checked, before anything is made. */
    private record Plan(
            Path disk, int volumeGib, Region home, List<Region> copies, List<String> accounts, String ssmName) {}

    private Plan plan(ImageStore store, ImageRef ref, Options o) throws IOException {
        Path disk = store.dir(ref).resolve("disk/disk.raw");
        if (!Files.isRegularFile(disk)) {
            throw new PublishException(
                    ref + " has no disk/disk.raw to make an AMI of (its spec's outputs must include 'disk')");
        }
        int volumeGib = VolumeSize.check(o.volumeSizeGib(), Files.size(disk));
        Region home = o.region() != null
                ? AwsSettings.checkRegion(o.region(), "--region")
                : clients.settings().homeRegion();
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
        return new Plan(disk, volumeGib, home, copies, accounts, ssmName);
    }

    public Result publish(ImageStore store, ImageRef ref, Options o) throws IOException {
        Manifest m = store.manifest(ref);
        Path dir = store.dir(ref);
        Plan plan = plan(store, ref, o);
        String endpoint = clients.settings().endpoint() == null
                ? null
                : clients.settings().endpoint().toString();
        Ec2Region home = Ec2Region.of(clients, plan.home(), endpoint);
        ImageRegistrar.AmiSpec spec =
                new ImageRegistrar.AmiSpec(ref, amiName(ref), KilnTags.description(m), KilnTags.of(m));
        Created created = new Created(listener);

        // 0. Credentials, region and the copy regions, before anything is made.
        checkRegions(home, plan.copies());

        // 1. The AMI in the home region, or the snapshot to make it from.
        SnapshotStore snapshots = new SnapshotStore(home, clients.ebs(plan.home()), workers, waiter, progress, created);
        ImageRegistrar homeImages = new ImageRegistrar(home, waiter, progress, created);
        Image image = homeImages.find(spec);
        Snapshot done = snapshots.findComplete(ref);
        String snapshotId;
        SnapshotUploader.Result written = null;
        if (done != null) {
            snapshotId = done.snapshotId();
        } else if (image != null) {
            // The tagged snapshot above is preferred: an EC2 implementation may describe a snapshot
            // of its own making as the image's root.
            snapshotId = ImageRegistrar.rootSnapshot(image);
        } else {
            SnapshotStore.Written w = snapshots.write(ref, m, plan.disk(), spec.tags());
            snapshotId = w.snapshotId();
            written = w.result();
        }
        if (image == null) {
            image = homeImages.register(spec, snapshotId, plan.volumeGib());
        }
        String homeImage = image.imageId();
        Map<String, String> images = new LinkedHashMap<>();
        images.put(plan.home().id(), homeImage);
        homeImages.awaitAvailable(homeImage);
        homeImages.share(homeImage, plan.accounts());
        Published.update(
                dir,
                ref.toString(),
                p -> p.withAmi(new Published.Ami(
                        plan.home().id(),
                        homeImage,
                        snapshotId,
                        spec.name(),
                        null,
                        plan.accounts(),
                        null,
                        endpoint,
                        S3Publisher.now())));

        // 2. Copies: start them all, then wait for each (they run in parallel on AWS's side).
        Map<Region, String> copyIds = new LinkedHashMap<>();
        for (Region c : plan.copies()) {
            ImageRegistrar there = registrar(c, created);
            Image found = there.find(spec);
            copyIds.put(c, found != null ? found.imageId() : there.copy(spec, plan.home(), homeImage));
        }
        for (Map.Entry<Region, String> e : copyIds.entrySet()) {
            ImageRegistrar there = registrar(e.getKey(), created);
            there.awaitAvailable(e.getValue());
            there.tagCopySnapshot(e.getValue(), spec.tags());
            there.share(e.getValue(), plan.accounts());
            images.put(e.getKey().id(), e.getValue());
            Published.update(
                    dir,
                    ref.toString(),
                    p -> p.withAmi(new Published.Ami(
                            e.getKey().id(),
                            e.getValue(),
                            null,
                            spec.name(),
                            plan.home().id(),
                            plan.accounts(),
                            null,
                            endpoint,
                            S3Publisher.now())));
        }

        // 3. The SSM parameter in every region points at the newest published version's AMI.
        if (!plan.ssmName().isEmpty()) {
            for (Map.Entry<String, String> e : images.entrySet()) {
                Region r = Region.of(e.getKey());
                if (pointLatest(r, plan.ssmName(), e.getValue(), m, created)) {
                    recordSsm(dir, ref, r, e.getValue(), plan.ssmName());
                }
            }
        }
        return new Result(
                images,
                snapshotId,
                plan.ssmName().isEmpty() ? null : plan.ssmName(),
                written != null,
                written == null ? 0 : written.changedBlocks(),
                written == null ? 0 : written.bytesSent(),
                Files.size(plan.disk()),
                created.ids());
    }

    /**
     * Copy regions are named without the endpoint in messages (only the home region's calls name
     * it).
     */
    private ImageRegistrar registrar(Region r, Created created) {
        return new ImageRegistrar(new Ec2Region(r, clients.ec2(r), "region " + r.id()), waiter, progress, created);
    }

    /**
     * Fails, before anything is made, when the credentials do not work or a region is not enabled.
     */
    private void checkRegions(Ec2Region home, List<Region> copies) throws PublishException {
        try (Progress.Step step = progress.step("check AWS account, " + home.where())) {
            Set<String> enabled = new LinkedHashSet<>();
            call(
                            step,
                            "listing the account's regions",
                            home.where(),
                            () -> home.ec2().describeRegions(b -> b.allRegions(false)))
                    .regions()
                    .forEach(r -> enabled.add(r.regionName()));
            for (Region c : copies) {
                if (!enabled.isEmpty() && !enabled.contains(c.id())) {
                    step.failed();
                    throw new PublishException("--copy-to "
                            + c.id()
                            + ": the region is not enabled for this account"
                            + " (opt-in regions must be enabled first); enabled: "
                            + String.join(", ", enabled));
                }
            }
            if (!enabled.isEmpty() && !enabled.contains(home.region().id())) {
                step.failed();
                throw new PublishException("region "
                        + home.region().id()
                        + " is not enabled for this account; enabled: "
                        + String.join(", ", enabled));
            }
        }
    }

    /**
     * Points the parameter at {@code imageId} unless it points at an AMI of a newer build of this
     * image (publishing an old version again must not move "latest" back). Returns whether it
     * points at {@code imageId} now.
     */
    private boolean pointLatest(Region r, String param, String imageId, Manifest m, Created created)
            throws PublishException {
        String where = "region " + r.id();
        SsmImagePointer pointer = new SsmImagePointer(clients.ssm(r), where);
        try (Progress.Step step =
                progress.step("point SSM parameter " + param + " at " + imageId + " (" + where + ")")) {
            try {
                String current = pointer.current(param);
                if (imageId.equals(current)) {
                    return true;
                }
                if (current != null) {
                    // An AMI that is gone or not ours has no built-at: point the parameter at this
                    // one.
                    String builtAt = registrar(r, created).builtAt(current);
                    if (builtAt != null && m.builtAt() != null && builtAt.compareTo(m.builtAt()) > 0) {
                        step.detail("stays at " + current + ", built " + builtAt + ", newer than this version");
                        return false;
                    }
                }
                pointer.point(param, imageId, "newest AMI of kiln image " + m.name() + " (" + m.version() + ")");
            } catch (PublishException e) {
                step.failed();
                throw e;
            }
            listener.created("ssm-parameter", r.id(), param);
            return true;
        }
    }

    /** Notes in published.json that the parameter points at this region's AMI. */
    private static void recordSsm(Path dir, ImageRef ref, Region r, String imageId, String ssmName) throws IOException {
        Published.update(dir, ref.toString(), p -> {
            for (Published.Ami a : p.amis()) {
                if (a.region().equals(r.id()) && imageId.equals(a.imageId())) {
                    return p.withAmi(new Published.Ami(
                            a.region(),
                            a.imageId(),
                            a.snapshotId(),
                            a.name(),
                            a.copiedFrom(),
                            a.sharedWith(),
                            ssmName,
                            a.endpoint(),
                            a.publishedAt()));
                }
            }
            return p;
        });
    }
}
