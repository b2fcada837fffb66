package dev.kiln.cli;

import dev.kiln.aws.S3ImageSource;
import dev.kiln.aws.S3Location;
import dev.kiln.core.store.ImageStore;
import dev.kiln.release.Environments;
import dev.kiln.release.EnvironmentsLoader;
import dev.kiln.release.Identity;
import dev.kiln.release.LocalReleaseStore;
import dev.kiln.release.ReleaseStore;
import dev.kiln.release.Releases;
import dev.kiln.release.S3ReleaseStore;
import dev.kiln.release.SsmChannels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What the promotion commands share: the store the records live with (--store DIR|s3://..., the
 * same as kiln serve's) and the environments file.
 */
final class ReleaseOptions {
    @Mixin
    ImageSourceOptions images;

    @Option(
            names = "--environments",
            paramLabel = "FILE",
            description = "Environments and their gates (default: $KILN_ENVIRONMENTS, else ./environments.yaml).")
    Path environments;

    Environments environments() throws Exception {
        return EnvironmentsLoader.load(environments != null ? environments : EnvironmentsLoader.defaultFile());
    }

    /**
     * The environments file if there is one (listings only use it for the order of environments).
     */
    Environments environmentsIfAny() throws Exception {
        Path f = environments != null ? environments : EnvironmentsLoader.defaultFile();
        return environments != null || Files.isRegularFile(f) ? EnvironmentsLoader.load(f) : null;
    }

    Releases open() throws IOException {
        return new Releases(
                store(images), Clock.systemUTC(), Identity.current(), new SsmChannels(images.aws.settings()));
    }

    /** The promotion records of an image store: beside the versions, locally or in S3. */
    static ReleaseStore store(ImageSourceOptions images) throws IOException {
        boolean s3 = images.store != null && images.store.startsWith("s3://");
        if (!s3) {
            if (images.cache != null) {
                throw new IllegalArgumentException("--cache goes with --store s3://BUCKET[/PREFIX]");
            }
            return new LocalReleaseStore(
                    new ImageStore(images.store != null ? Path.of(images.store) : ImageStore.defaultRoot()));
        }
        S3Location location = S3Location.parse(images.store);
        return S3ReleaseStore.open(
                location,
                images.aws.settings(),
                images.cache != null ? images.cache : S3ImageSource.defaultCache(location));
    }
}
