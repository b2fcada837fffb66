package dev.kiln.aws;

/**
 * The root volume size an AMI gets by default (its block-device mapping): the snapshot's size
 * (disk.raw rounded up to whole GiB, as EBS counts), or more when asked; kiln images grow their
 * root into the extra space at first boot. A volume smaller than its snapshot is impossible.
 */
public final class VolumeSize {
    static final long GIB = 1L << 30;

    /** gp3's largest volume. */
    static final int MAX_GIB = 16384;

    private VolumeSize() {}

    /** The snapshot of a disk of {@code diskBytes}: whole GiB, at least 1. */
    public static int snapshotGib(long diskBytes) {
        return (int) Math.max(1, (diskBytes + GIB - 1) / GIB);
    }

    /**
     * Checks --volume-size against the snapshot of a {@code diskBytes} disk and returns the size to
     * register: {@code requested}, or the snapshot's size when null.
     */
    public static int check(Integer requested, long diskBytes) throws PublishException {
        int snapshot = snapshotGib(diskBytes);
        if (requested == null) {
            return snapshot;
        }
        if (requested < snapshot) {
            throw new PublishException("--volume-size "
                    + requested
                    + " GiB is smaller than the snapshot of disk.raw ("
                    + snapshot
                    + " GiB): an AMI's root volume can only be as big as its snapshot or bigger; give at least "
                    + snapshot);
        }
        if (requested > MAX_GIB) {
            throw new PublishException(
                    "--volume-size " + requested + " GiB is more than a gp3 volume can hold (" + MAX_GIB + " GiB)");
        }
        return requested;
    }
}
