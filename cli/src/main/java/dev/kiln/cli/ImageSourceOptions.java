package dev.kiln.cli;

import dev.kiln.aws.S3ImageSource;
import dev.kiln.aws.S3Location;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * --store DIR|s3://BUCKET[/PREFIX] (+ --cache and the AWS options), for commands that read images
 * from a local store or from one kiln publish --s3 wrote (serve, validate).
 */
final class ImageSourceOptions {
    // Not StoreOption: a Path would mangle s3://.
    @Option(
            names = "--store",
            paramLabel = "DIR|s3://BUCKET[/PREFIX]",
            description = {
                "Image store directory (default: $KILN_STORE or ~/.local/share/kiln/images),",
                "or an S3 store written by kiln publish --s3."
            })
    String store;

    @Option(
            names = "--cache",
            paramLabel = "DIR",
            description =
                    "With an S3 store: where versions are fetched to (default: ~/.cache/kiln/s3-images/BUCKET/PREFIX).")
    Path cache;

    /** With an S3 store: how to reach it. */
    @Mixin
    AwsOptions aws;

    ImageSource open() throws IOException {
        return open(false);
    }

    /**
     * @param awsElsewhere the command also uses --region/--profile/--endpoint-url for something else
     *     (kiln serve: its EC2 clusters), so they are no mistake with a local store
     */
    ImageSource open(boolean awsElsewhere) throws IOException {
        boolean s3 = store != null && store.startsWith("s3://");
        if (!s3 && (cache != null || (aws.anySet() && !awsElsewhere))) {
            throw new IllegalArgumentException(
                    awsElsewhere
                            ? "--cache goes with --store s3://BUCKET[/PREFIX]"
                            : "--cache, --region, --profile and --endpoint-url go with --store s3://BUCKET[/PREFIX]");
        }
        if (!s3) {
            return ImageSource.local(new ImageStore(store != null ? Path.of(store) : ImageStore.defaultRoot()));
        }
        S3Location location = S3Location.parse(store);
        return S3ImageSource.open(
                location, aws.settings(), cache != null ? cache : S3ImageSource.defaultCache(location));
    }
}
