package dev.kiln.aws;

/**
 * Hears what a publish does, as it happens (tests record the order of uploads with it, and a test
 * process prints it so its parent can kill it midway). Called from worker threads.
 */
public interface PublishListener {
    /**
     * An S3 object is now complete at {@code key} (after its PutObject or CompleteMultipartUpload).
     */
    default void objectUploaded(String key, long size) {}

    /** One part of a multipart upload went up. */
    default void partUploaded(String key, int partNumber) {}

    /** An S3 object was already there with the right sha256 and was not uploaded again. */
    default void objectSkipped(String key) {}

    /** One 512 KiB block of a snapshot was written. */
    default void blockUploaded(String snapshotId, int blockIndex) {}

    /** A cloud resource was created (snapshot, image, copy, parameter). */
    default void created(String kind, String region, String id) {}

    PublishListener NONE = new PublishListener() {};
}
