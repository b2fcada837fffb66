package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.BrokenImages;
import dev.kiln.builder.TestImages;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln validate --provider qemu-pxe: diskless QEMU machines on a private network (namespace,
 * bridge, dnsmasq) that boot the image's kernel through iPXE from an in-process kiln serve.
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

    @Test
    void failingUnitFailsTheUnitsCheckNamingNodeAndUnitWellBeforeTheDeadline() throws Exception {
        var image = BrokenImages.failingUnit();

        ValidationRun run = ValidationRun.of(image, "qemu-pxe", 1, 1, Duration.ofSeconds(600), work);

        ValidationReport r = run.report();
        assertThat(r.passed()).isFalse();
        assertThat(r.error()).startsWith("m1: check units-active failed: kiln-broken.service is failed");
        for (ValidationReport.Node n : r.nodes()) {
            assertThat(n.failure()).as(n.name() + " bootstrapped").isNull();
            assertThat(n.console())
                    .as("failed nodes keep the end of their console")
                    .isNotEmpty();
        }
        assertThat(r.seconds())
                .as("a verdict once the checks are in, not at the deadline")
                .isLessThan(300);
        assertThat(Leftovers.of(r.runId(), run.tmpRoot())).isEmpty();
    }
}
