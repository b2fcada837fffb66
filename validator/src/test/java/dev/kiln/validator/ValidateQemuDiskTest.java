package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.kiln.builder.TestImages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln validate --provider qemu-disk: QEMU machines boot disk/disk.raw under UEFI from NVMe and get
 * their metadata as EC2 user data from IMDSv2, as an instance of the AMI would, on disks bigger
 * than the image (--disk-size), so they grow their root and report it.
 */
@Tag("vm")
class ValidateQemuDiskTest {
    @TempDir
    Path work;

    static final Pattern GROWN =
            Pattern.compile("grown (\\S+)G -> (\\S+)G \\(/dev/nvme0n1p3 fills the (\\S+)G disk /dev/nvme0n1\\)");

    /**
     * On disks four times disk.raw's size, as instances of the AMI launched with a bigger volume.
     */
    @Test
    void goodImageBootsItsDiskGetsUserDataFromImdsAndPassesEveryCheck() throws Exception {
        var image = TestImages.debianNode();
        long disk = 4 * Files.size(TestImages.dirOf(image).resolve("disk/disk.raw"));

        ValidationRun run = ValidationRun.of(image, "qemu-disk", 1, 1, Duration.ofSeconds(600), work, disk);

        run.assertValidated("pass");
        for (ValidationReport.Node n : run.report().nodes()) {
            assertThat(n.kernel()).isEqualTo(image.kernel().release());
            // Each node grew its root into its bigger disk and said so in its "booted" report.
            Matcher grown = GROWN.matcher(String.valueOf(n.root()));
            assertThat(grown.matches()).as(n.name() + " root: " + n.root()).isTrue();
            assertThat(Double.parseDouble(grown.group(3))).isEqualTo(disk / 1073741824.0, within(0.05));
            assertThat(Double.parseDouble(grown.group(2))).isGreaterThanOrEqualTo(0.9 * disk / 1073741824.0);
            assertThat(run.printed()).contains("      root " + n.root());
        }
        assertThat(run.printed())
                .contains(
                        "IMDS: user data to " + run.node("m1").address(),
                        "IMDS: user data to " + run.node("w1").address());
    }
}
