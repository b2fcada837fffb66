package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
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

        run.assertValidated("pass");
        for (ValidationReport.Node n : run.report().nodes()) {
            assertThat(n.kernel()).isEqualTo(image.kernel().release());
        }
        assertThat(run.printed()).contains("IMDS: user data to " + run.node("m1").address(),
                "IMDS: user data to " + run.node("w1").address());
    }
}
