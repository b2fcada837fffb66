package dev.kiln.release.prune;

/**
 * Test hook: with {@code -Dkiln.test.prune.haltAt=POINT} the JVM halts at that point, as if killed
 * with SIGKILL (no finally blocks, no shutdown hooks), so a test can check that a killed prune
 * leaves no half-visible version and that a re-run finishes. Never set outside tests.
 */
final class CrashPoint {
    static final String PROPERTY = "kiln.test.prune.haltAt";

    /** Local store: the version was renamed into .trash/, not deleted yet. */
    static final String LOCAL_RENAMED = "local-renamed";

    /** S3: the manifest is gone, the artifacts are not. */
    static final String S3_MANIFEST_DELETED = "s3-manifest-deleted";

    /** AWS: the AMI is deregistered, its snapshot not deleted yet. */
    static final String AMI_DEREGISTERED = "ami-deregistered";

    private CrashPoint() {}

    static void reached(String point) {
        if (point.equals(System.getProperty(PROPERTY))) {
            System.out.println("halting at " + point);
            System.out.flush();
            Runtime.getRuntime().halt(137);
        }
    }
}
