package dev.kiln.aws;

import static dev.kiln.aws.AwsCall.call;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.model.ArchitectureValues;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.BootModeValues;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.ImdsSupportValues;
import software.amazon.awssdk.services.ec2.model.LaunchPermission;
import software.amazon.awssdk.services.ec2.model.ResourceType;
import software.amazon.awssdk.services.ec2.model.Tag;
import software.amazon.awssdk.services.ec2.model.VolumeType;

/**
 * The AMIs of image versions in one region: found by their tags or their name, registered from a
 * snapshot, copied in from another region, shared with accounts. AMI names are unique per account
 * and region, so an AMI a crashed run registered but did not tag is still found.
 */
final class ImageRegistrar {
    /** What an AMI of a version is called, described and tagged as, in every region. */
    record AmiSpec(ImageRef ref, String name, String description, List<Tag> tags) {}

    private final Ec2Region at;
    private final Waiter waiter;
    private final Progress progress;
    private final Created created;

    ImageRegistrar(Ec2Region at, Waiter waiter, Progress progress, Created created) {
        this.at = at;
        this.waiter = waiter;
        this.progress = progress;
        this.created = created;
    }

    /**
     * The AMI of this version here: by its tags, or by its name (a run that crashed before tagging
     * it); the oldest when there are several. Failed ones are deregistered on the way. Null if
     * none.
     */
    Image find(AmiSpec spec) throws PublishException {
        try {
            Map<String, Image> found = new LinkedHashMap<>();
            at.ec2()
                    .describeImages(b -> b.owners("self")
                            .filters(
                                    Filter.builder()
                                            .name("tag:" + KilnTags.NAME)
                                            .values(spec.ref().name())
                                            .build(),
                                    Filter.builder()
                                            .name("tag:" + KilnTags.VERSION)
                                            .values(spec.ref().version())
                                            .build()))
                    .images()
                    .forEach(i -> found.put(i.imageId(), i));
            at.ec2()
                    .describeImages(b -> b.owners("self")
                            .filters(Filter.builder()
                                    .name("name")
                                    .values(spec.name())
                                    .build()))
                    .images()
                    .forEach(i -> found.put(i.imageId(), i));
            List<Image> usable = new ArrayList<>();
            for (Image i : found.values()) {
                switch (i.stateAsString()) {
                    case "available", "pending" -> usable.add(i);
                    case "failed", "error", "invalid" -> {
                        try (Progress.Step step =
                                progress.step("deregister failed image " + i.imageId() + " (" + at.where() + ")")) {
                            at.ec2().deregisterImage(b -> b.imageId(i.imageId()));
                        }
                    }
                    default -> {}
                }
            }
            usable.sort(Comparator.comparing(Image::creationDate, Comparator.nullsLast(Comparator.naturalOrder())));
            return usable.isEmpty() ? null : usable.get(0);
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "looking for the AMI of " + spec.ref(), at.where());
        }
    }

    /**
     * Registers an x86_64 UEFI-preferred, IMDSv2-only AMI booting from {@code snapshotId} on a gp3
     * root volume of {@code rootVolumeGib}; an AMI of that name already there (registered
     * concurrently, or untagged by a crash) is returned instead.
     */
    Image register(AmiSpec spec, String snapshotId, int rootVolumeGib) throws IOException {
        try (Progress.Step step = progress.step("register AMI " + spec.name() + " from " + snapshotId)) {
            List<Tag> tags = KilnTags.limit(spec.tags());
            String id;
            try {
                id = at.ec2()
                        .registerImage(b -> b.name(spec.name())
                                .description(spec.description())
                                .architecture(ArchitectureValues.X86_64)
                                .virtualizationType("hvm")
                                .enaSupport(true)
                                .bootMode(BootModeValues.UEFI_PREFERRED)
                                .imdsSupport(ImdsSupportValues.V2_0)
                                .rootDeviceName("/dev/xvda")
                                .blockDeviceMappings(BlockDeviceMapping.builder()
                                        .deviceName("/dev/xvda")
                                        .ebs(e -> e.snapshotId(snapshotId)
                                                .volumeType(VolumeType.GP3)
                                                .volumeSize(rootVolumeGib)
                                                .deleteOnTermination(true))
                                        .build())
                                .tagSpecifications(
                                        t -> t.resourceType(ResourceType.IMAGE).tags(tags)))
                        .imageId();
            } catch (SdkException e) {
                if (AwsErrorCode.AMI_NAME_DUPLICATE.matches(e)) {
                    Image there = find(spec);
                    if (there != null) {
                        return there;
                    }
                }
                step.failed();
                throw AwsErrors.explain(e, "registering AMI " + spec.name(), at.where());
            }
            created.add("image", at.region().id(), id);
            // Not every EC2 implementation applies TagSpecifications; tagging again is harmless.
            call(
                    step,
                    "tagging " + id,
                    at.where(),
                    () -> at.ec2().createTags(b -> b.resources(id).tags(tags)));
            return describe(id);
        }
    }

    /**
     * Starts copying {@code sourceImageId} from region {@code from} here and tags the copy
     * (kiln:copied-from too); returns the copy's id. Its client token makes a retried copy the same
     * copy.
     */
    String copy(AmiSpec spec, Region from, String sourceImageId) throws PublishException {
        String region = at.region().id();
        try (Progress.Step step = progress.step("copy " + sourceImageId + " to " + region)) {
            String token = "kiln-"
                    + Hashing.sha256(spec.ref() + "/" + sourceImageId + "/" + region)
                            .substring(0, 32);
            String id = call(
                            step,
                            "copying " + sourceImageId + " to " + region,
                            at.where(),
                            () -> at.ec2()
                                    .copyImage(b -> b.sourceImageId(sourceImageId)
                                            .sourceRegion(from.id())
                                            .name(spec.name())
                                            .description(spec.description())
                                            .clientToken(token)
                                            .copyImageTags(true)))
                    .imageId();
            List<Tag> copyTags = new ArrayList<>(spec.tags());
            copyTags.add(KilnTags.tag(KilnTags.COPIED_FROM, from.id() + "/" + sourceImageId));
            // CopyImage's tags are not honoured everywhere: tag explicitly.
            call(
                    step,
                    "tagging " + id,
                    at.where(),
                    () -> at.ec2().createTags(b -> b.resources(id).tags(KilnTags.limit(copyTags))));
            created.add("image-copy", region, id);
            return id;
        }
    }

    /** Waits until the AMI is available; fails at once when it failed. */
    void awaitAvailable(String id) throws IOException {
        waiter.until(
                "image " + id + " to become available",
                "wait for image " + id + " to become available (" + at.where() + ")",
                () -> {
                    List<Image> imgs = call(
                                    null,
                                    "reading image " + id,
                                    at.where(),
                                    () -> at.ec2().describeImages(b -> b.imageIds(id)))
                            .images();
                    String state = imgs.isEmpty() ? "missing" : imgs.get(0).stateAsString();
                    if (!state.equals("available") && !state.equals("pending") && !state.equals("missing")) {
                        throw new PublishException("image "
                                + id
                                + " is "
                                + state
                                + " ("
                                + at.where()
                                + ")"
                                + (imgs.isEmpty() || imgs.get(0).stateReason() == null
                                        ? ""
                                        : ": " + imgs.get(0).stateReason().message())
                                + "; a re-run deregisters it and tries again");
                    }
                    return state.equals("available") ? state : null;
                });
    }

    /** Gives the accounts launch permission; nothing when there are none. */
    void share(String imageId, List<String> accounts) throws PublishException {
        if (accounts.isEmpty()) {
            return;
        }
        try (Progress.Step step = progress.step("share " + imageId + " with " + String.join(", ", accounts))) {
            List<LaunchPermission> add = accounts.stream()
                    .map(a -> LaunchPermission.builder().userId(a).build())
                    .toList();
            call(
                    step,
                    "granting launch permission on " + imageId,
                    at.where(),
                    () -> at.ec2().modifyImageAttribute(b -> b.imageId(imageId).launchPermission(l -> l.add(add))));
        }
    }

    /** Tags the snapshot CopyImage made for a copy like the home snapshot (kiln:state=complete). */
    void tagCopySnapshot(String imageId, List<Tag> tags) throws PublishException {
        String snap = rootSnapshot(describe(imageId));
        if (snap != null) {
            List<Tag> t = KilnTags.limit(KilnTags.withState(tags, KilnTags.STATE_COMPLETE));
            call(
                    null,
                    "tagging " + snap,
                    at.where(),
                    () -> at.ec2().createTags(b -> b.resources(snap).tags(t)));
        }
    }

    /** The kiln:built-at tag of an AMI here; null when it has none, or is gone or not readable. */
    String builtAt(String imageId) {
        try {
            List<Image> imgs = at.ec2().describeImages(b -> b.imageIds(imageId)).images();
            return imgs.isEmpty() ? null : KilnTags.value(imgs.get(0).tags(), KilnTags.BUILT_AT);
        } catch (SdkException e) {
            return null;
        }
    }

    /** The snapshot behind the image's root device, or null. */
    static String rootSnapshot(Image image) {
        for (BlockDeviceMapping bdm : image.blockDeviceMappings()) {
            if (bdm.ebs() != null
                    && bdm.ebs().snapshotId() != null
                    && (image.rootDeviceName() == null || image.rootDeviceName().equals(bdm.deviceName()))) {
                return bdm.ebs().snapshotId();
            }
        }
        return null;
    }

    private Image describe(String id) throws PublishException {
        return call(null, "reading image " + id, at.where(), () -> at.ec2().describeImages(b -> b.imageIds(id)))
                .images()
                .get(0);
    }
}
