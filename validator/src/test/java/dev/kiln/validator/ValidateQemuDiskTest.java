package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.validator.ValidationReport.Check;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln validate --provider qemu-disk: QEMU machines boot disk/disk.raw under UEFI from NVMe and
 * get their metadata as EC2 user data from IMDSv2, as an instance of the AMI would.
 */
@Tag("vm")
class ValidateQemuDiskTest {
    @TempDir
    Path work;

    @Test
    void goodImageBootsItsDiskGetsUserDataFromImdsAndPassesEveryCheck() throws Exception {
        var image = TestImages.debianNode();

        ValidationRun run = ValidationRun.of(image, "qemu-disk", 1, 1, Duration.ofSeconds(600), work);

        ValidationReport r = run.report();
        assertThat(r.passed()).as(run.printed()).isTrue();
        for (ValidationReport.Node n : r.nodes()) {
            assertThat(n.kernel()).isEqualTo(image.kernel().release());
            assertThat(n.checks()).extracting(Check::check, Check::status).containsExactly(
                    org.assertj.core.groups.Tuple.tuple("kernel-version", "pass"),
                    org.assertj.core.groups.Tuple.tuple("units-active", "pass"),
                    org.assertj.core.groups.Tuple.tuple("image-identity", "pass"),
                    org.assertj.core.groups.Tuple.tuple("hygiene", "pass"));
        }
        assertThat(r.cluster()).extracting(Check::check, Check::status).containsExactly(
                org.assertj.core.groups.Tuple.tuple("etcd-members", "pass"),
                org.assertj.core.groups.Tuple.tuple("etcd-healthy", "pass"));
        assertThat(run.printed()).contains("IMDS: user data to " + run.node("m1").address(),
                "IMDS: user data to " + run.node("w1").address());
        assertThat(Leftovers.of(r.runId(), run.tmpRoot())).isEmpty();
    }
}
