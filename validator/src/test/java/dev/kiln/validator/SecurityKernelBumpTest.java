package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.builder.TestSupport;
import dev.kiln.builder.spec.SpecLoader;
import dev.kiln.builder.update.Bump;
import dev.kiln.builder.update.Outdated;
import dev.kiln.core.store.ImageDiff;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import java.time.LocalDate;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The first half of the update loop on the shipped spec: kiln outdated finds bookworm-security's
 * newer cloud kernel, kiln bump --kernel pins it, the bumped spec builds, kiln diff shows the
 * kernel change. The bumped image on real machines is RolloutLabTest's (see the end of the test).
 */
@Tag("vm")
class SecurityKernelBumpTest {
    @Test
    void theBumpedSecurityKernelBuildsAndDiffs() throws Exception {
        Manifest old = TestImages.debianNode();
        SpecLoader.Loaded shipped = SpecLoader.load(TestSupport.repo("image-specs/debian-node.yaml"));
        Outdated.Report report = Outdated.check(shipped, old, s -> {});
        Bump.Result bumped =
                Bump.apply(shipped, report, new Bump.Selection(true, false), null, LocalDate.now(ZoneOffset.UTC));
        assertThat(bumped.changed())
                .as("bookworm-security carries a newer cloud kernel than the shipped pin")
                .isTrue();

        Manifest updated = TestImages.debianNodeVariant("debian-node", spec -> bumped.text());
        assertThat(updated.version()).isEqualTo(bumped.newVersion());
        assertThat(updated.kernel().packageName()).isNotEqualTo(old.kernel().packageName());

        ImageDiff diff = ImageDiff.between(
                TestImages.store(),
                new ImageRef(old.name(), old.version()),
                new ImageRef(updated.name(), updated.version()));
        assertThat(diff.kernel()).as(diff.render(20)).isNotEmpty();
        assertThat(diff.render(20))
                .contains(old.kernel().packageName())
                .contains(updated.kernel().packageName());

        assertThat(updated.kernel().release()).isNotEqualTo(old.kernel().release());
        // That it boots on real machines and runs the new kernel (uname -r = the manifest's release,
        // and the kernel-version check passing) is RolloutLabTest's: the lab rolls every node to
        // this very image (TestImages.kernelBumped()). A qemu-pxe run of its own here proved the same.
    }
}
