package dev.kiln.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Published;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The parts of publishing that need no AWS (no emulator: not tagged "aws"). */
class PublishBasicsTest {
    @TempDir
    Path dir;

    @Test
    void s3LocationsAreParsedAndVersionsGoUnderNameAndVersion() {
        ImageRef ref = new ImageRef("node", "1.0.0");
        assertThat(S3Location.parse("s3://images").versionPrefix(ref)).isEqualTo("node/1.0.0/");
        assertThat(S3Location.parse("s3://images/").versionPrefix(ref)).isEqualTo("node/1.0.0/");
        assertThat(S3Location.parse("s3://images/a//b").url(ref)).isEqualTo("s3://images/a/b/node/1.0.0/");
        assertThatThrownBy(() -> S3Location.parse("https://images/x")).hasMessageContaining("expected s3://BUCKET");
        assertThatThrownBy(() -> S3Location.parse("s3://Bad_Bucket/x"))
                .hasMessageContaining("not a valid S3 bucket name");
    }

    @Test
    void amiNamesKeepOnlyWhatEc2Allows() {
        assertThat(AmiPublisher.amiName(new ImageRef("debian-node", "1.0.0-20261127.1")))
                .isEqualTo("kiln/debian-node/1.0.0-20261127.1");
        assertThat(AmiPublisher.amiName(new ImageRef("node", "1.0.0+build:7"))).isEqualTo("kiln/node/1.0.0_build_7");
    }

    @Test
    void unknownRegionsAreRefusedWithTheKnownOnes() throws Exception {
        assertThat(AwsSettings.checkRegion("eu-west-1", "--region").id()).isEqualTo("eu-west-1");
        assertThatThrownBy(() -> AwsSettings.checkRegion("eu-nowhere-1", "--copy-to"))
                .hasMessageContaining("unknown AWS region 'eu-nowhere-1' (from --copy-to)")
                .hasMessageContaining("us-east-1");
        assertThatThrownBy(() -> AwsSettings.checkRegion("aws-global", "--region"))
                .hasMessageContaining("unknown AWS region");
    }

    @Test
    void theRootVolumeIsTheSnapshotsSizeOrMoreNeverLess() throws Exception {
        long disk = 2L << 30;
        assertThat(VolumeSize.check(null, disk)).isEqualTo(2);
        assertThat(VolumeSize.check(2, disk)).isEqualTo(2);
        assertThat(VolumeSize.check(20, disk)).isEqualTo(20);
        assertThat(VolumeSize.check(null, disk + 1)).as("EBS counts whole GiB").isEqualTo(3);
        assertThatThrownBy(() -> VolumeSize.check(1, disk))
                .isInstanceOf(PublishException.class)
                .hasMessage(
                        "--volume-size 1 GiB is smaller than the snapshot of disk.raw (2 GiB): an AMI's root volume "
                                + "can only be as big as its snapshot or bigger; give at least 2");
        assertThatThrownBy(() -> VolumeSize.check(20000, disk)).hasMessageContaining("more than a gp3 volume can hold");
    }

    @Test
    void publishedRecordsMergeByDestination() throws Exception {
        Published.update(dir, "node:1", p -> p.withS3(new Published.S3Copy("s3://a/node/1/", null, "t1", 9, 100)));
        Published.update(
                dir,
                "node:1",
                p -> p.withAmi(new Published.Ami(
                        "eu-west-1", "ami-2", null, "kiln/node/1", "us-east-1", List.of(), null, null, "t2")));
        Published.update(
                dir,
                "node:1",
                p -> p.withAmi(new Published.Ami(
                        "us-east-1",
                        "ami-1",
                        "snap-1",
                        "kiln/node/1",
                        null,
                        List.of("111122223333"),
                        "/kiln/images/node/latest",
                        null,
                        "t2")));
        Published.update(dir, "node:1", p -> p.withS3(new Published.S3Copy("s3://a/node/1/", null, "t3", 9, 100)));

        Published p = Published.read(dir);
        assertThat(p.ref()).isEqualTo("node:1");
        assertThat(p.s3()).extracting(Published.S3Copy::publishedAt).containsExactly("t3");
        assertThat(p.amis()).extracting(Published.Ami::region).containsExactly("us-east-1", "eu-west-1");
        assertThat(p.describe())
                .containsExactly(
                        "s3   s3://a/node/1/  (9 objects, published t3)",
                        "ami  us-east-1  ami-1  snapshot snap-1  shared with 111122223333  ssm /kiln/images/node/latest",
                        "ami  eu-west-1  ami-2  copied from us-east-1");
        assertThat(dir.resolve(".published.json.tmp")).doesNotExist();
    }
}
