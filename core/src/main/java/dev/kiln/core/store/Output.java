package dev.kiln.core.store;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What a build can produce, as named in a spec's {@code outputs}, and the artifact that proves it.
 */
public enum Output {
    PXE("pxe", "pxe/rootfs.squashfs"),
    DISK("disk", "disk/disk.raw"),
    ROOTFS_TAR("rootfs-tar", "rootfs.tar");

    private final String specName;
    private final String artifact;

    Output(String specName, String artifact) {
        this.specName = specName;
        this.artifact = artifact;
    }

    /** The name in a spec's outputs list. */
    public String specName() {
        return specName;
    }

    /** The artifact (relative to the version directory) a version has when it has this output. */
    public String artifact() {
        return artifact;
    }

    /** Whether the version of {@code manifest} has this output. */
    public boolean in(Manifest manifest) {
        return manifest.artifacts() != null && manifest.artifacts().containsKey(artifact);
    }

    public static Optional<Output> parse(String specName) {
        return Arrays.stream(values()).filter(o -> o.specName.equals(specName)).findFirst();
    }

    public static List<String> specNames() {
        return Arrays.stream(values()).map(Output::specName).toList();
    }

    @Override
    public String toString() {
        return specName;
    }
}
