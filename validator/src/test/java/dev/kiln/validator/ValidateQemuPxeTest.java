package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln validate --provider qemu-pxe: diskless QEMU machines on a private network (namespace,
 * bridge, dnsmasq) that boot the image's kernel through iPXE from an in-process kiln serve. A
 * broken image's verdict is the same check plan on any provider: ValidateContainerTest shows it
 * (a failing unit, missing metadata, early verdicts); NodeStorageTest shows qemu-pxe nodes failing
 * with the end of their console kept.
 */
@Tag("vm")
class ValidateQemuPxeTest {
    @TempDir
    Path work;

    @Test
    void goodImageBootsOverPxeFormsEtcdAndPassesEveryCheck() throws Exception {
        var image = TestImages.debianNode();

        ValidationRun run = ValidationRun.of(image, "qemu-pxe", 1, 2, Duration.ofSeconds(600), work);

        run.assertValidated("pass");
        for (ValidationReport.Node n : run.report().nodes()) {
            assertThat(n.kernel()).isEqualTo(image.kernel().release());
        }
        assertThat(run.report().notes()).isEmpty();
    }
}
