package dev.kiln.release;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.ValidationRecord;
import dev.kiln.core.util.Hashing;
import dev.kiln.fleet.TestStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.CyclicBarrier;

/** Hand-made store versions and validation records for the promotion tests: no image builds. */
final class Fixtures {
    private Fixtures() {}

    /** A PXE-bootable version (fleet's TestStore), with a manifest of its own. */
    static ImageRef version(ImageStore store, String name, String version) throws IOException {
        TestStore.pxeVersion(store, name, version, 4096);
        return new ImageRef(name, version);
    }

    /**
     * Records a validation run beside the version's manifest as kiln validate does: the report kept
     * under validation/RUN.json, the run in validation.json with the report's and the manifest's
     * sha256. {@code manifestSha256} null means the version's own.
     */
    static void validated(
            ImageStore store,
            ImageRef ref,
            String runId,
            String result,
            String provider,
            int masters,
            int workers,
            String manifestSha256)
            throws IOException {
        Path dir = store.dir(ref);
        Path report = Files.createTempFile("kiln-report", ".json");
        try {
            Files.writeString(
                    report,
                    "{\"runId\":\"" + runId + "\",\"image\":\"" + ref + "\",\"result\":\"" + result + "\"}",
                    StandardCharsets.UTF_8);
            String sha = manifestSha256 != null ? manifestSha256 : Hashing.sha256(dir.resolve(ImageStore.MANIFEST));
            ValidationRecord.append(
                    dir,
                    ref.toString(),
                    new ValidationRecord.Run(
                            runId,
                            result,
                            provider,
                            masters,
                            workers,
                            "2026-11-27T08:00:00Z",
                            120,
                            Hashing.sha256(report),
                            sha),
                    report);
        } finally {
            Files.deleteIfExists(report);
        }
    }

    /** A clock the test moves. */
    static final class TestClock extends Clock {
        Instant now;

        TestClock(String iso) {
            now = Instant.parse(iso);
        }

        void advance(java.time.Duration d) {
            now = now.plus(d);
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    /**
     * A real store whose appends wait until {@code parties} writers are about to append, so two
     * promotions truly race for the same sequence number instead of one finishing first.
     */
    static ReleaseStore racing(ReleaseStore real, CyclicBarrier barrier) {
        return new ReleaseStore() {
            private boolean waited;

            public String describe() {
                return real.describe();
            }

            public java.util.List<String> images() throws IOException {
                return real.images();
            }

            public java.util.List<Stored> events(String image) throws IOException {
                return real.events(image);
            }

            public boolean append(String image, long seq, byte[] json) throws IOException {
                if (!waited) {
                    waited = true;
                    try {
                        barrier.await(30, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (Exception e) {
                        throw new IOException("the other writer never came", e);
                    }
                }
                return real.append(image, seq, json);
            }

            public Pointer pointer(String image, String env) throws IOException {
                return real.pointer(image, env);
            }

            public boolean putPointer(String image, String env, byte[] json, String ifMatch) throws IOException {
                return real.putPointer(image, env, json, ifMatch);
            }

            public byte[] manifest(ImageRef ref) throws IOException {
                return real.manifest(ref);
            }

            public Path recordsDir(ImageRef ref) {
                return real.recordsDir(ref);
            }

            public void close() {
                real.close();
            }
        };
    }
}
