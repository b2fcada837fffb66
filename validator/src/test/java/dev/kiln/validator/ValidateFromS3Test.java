package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.aws.Moto;
import dev.kiln.aws.S3ImageSource;
import dev.kiln.aws.S3Location;
import dev.kiln.builder.TestImages;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ValidationRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln validate --store s3://: the version is fetched from S3 (moto) into the local cache, checked
 * against its manifest, validated there, and the verdict recorded beside the cached manifest.
 */
@Tag("aws")
@Tag("vm")
class ValidateFromS3Test {
    @TempDir
    Path tmp;

    @Test
    void validatesAVersionThatLivesOnlyInS3() throws Exception {
        Manifest m = TestImages.debianNode();
        ImageRef ref = new ImageRef(m.name(), m.version());
        S3Location store = S3Location.parse("s3://kiln-images/releases");
        Moto moto = Moto.shared();
        // rootfs.tar only: the container provider needs nothing else, and moto keeps objects in
        // memory.
        moto.publishedS3Store(TestImages.partialCopy(m, "rootfs.tar"::equals, tmp.resolve("tar-store")), ref, store);
        List<String> out = new ArrayList<>();
        Path cache = tmp.resolve("cache");
        ValidationReport r;
        try (S3ImageSource source = S3ImageSource.open(store, moto.settings("us-east-1"), cache)) {
            r = Validator.run(new Validator.Request(
                    source,
                    ref,
                    null,
                    1,
                    1,
                    Duration.ofSeconds(180),
                    tmp.resolve("report"),
                    Files.createDirectories(tmp.resolve("run")),
                    out::add));
        }

        assertThat(r.provider())
                .as("the only runnable output picks the provider")
                .isEqualTo("container");
        assertThat(r.passed()).as(String.join("\n", out)).isTrue();
        Path cached = new dev.kiln.core.store.ImageStore(cache).dir(ref);
        assertThat(ValidationRecord.read(cached).lastValidated("container").runId())
                .isEqualTo(r.runId());
        assertThat(Leftovers.of(r.runId(), tmp.resolve("run"))).isEmpty();
    }
}
