package dev.kiln.builder.build;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.kiln.builder.TestSupport;
import dev.kiln.builder.apt.AptIndex;
import dev.kiln.builder.spec.SpecException;
import dev.kiln.builder.spec.SpecLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A version the mirror does not have fails as soon as the index is read, before any rootfs work,
 * and names the versions the mirror does have. Reads the real Debian mirror the spec names.
 */
class PackagePlanTest {
    @TempDir
    Path dir;

    private SpecException verify(String from, String to) throws Exception {
        String yaml = Files.readString(TestSupport.repo("image-specs/debian-node.yaml"))
                .replace(from, to);
        Path spec = dir.resolve("debian-node.yaml");
        Files.writeString(spec, yaml);
        SpecLoader.Loaded loaded = SpecLoader.load(spec);
        PackagePlan plan = PackagePlan.of(loaded.spec());
        AptIndex index = AptIndex.read(plan.sources(), "amd64");
        return catchThrowableOfType(SpecException.class, () -> plan.verify(index, loaded.problems()));
    }

    @Test
    void kernelVersionTheMirrorLacksIsNamedWithWhatItHas() throws Exception {
        SpecException e = verify("  version: 6.1.176-1", "  version: 6.1.999-1");
        assertThat(e).isNotNull();
        assertThat(e.problems()).hasSize(1);
        assertThat(e.problems().get(0).field()).isEqualTo("kernel.version");
        assertThat(e.problems().get(0).line()).isEqualTo(17);
        assertThat(e.getMessage())
                .contains("version 6.1.999-1 of 'linux-image-6.1.0-50-cloud-amd64' is not in")
                .contains("the mirror has 6.1.176-1");
    }

    @Test
    void componentPackageVersionTheMirrorLacks() throws Exception {
        SpecException e = verify("packageVersion: 1.6.20~ds1-1+deb12u3", "packageVersion: 9.9.9-1");
        assertThat(e.problems().get(0).field()).isEqualTo("components.containerd.packageVersion");
        assertThat(e.getMessage()).contains("the mirror has 1.6.20~ds1-1+deb12u3");
    }

    @Test
    void unknownPackageIsNamed() throws Exception {
        SpecException e = verify("  - etcd-client=3.4.23-4+b4", "  - no-such-package-kiln");
        assertThat(e.problems().get(0).field()).isEqualTo("packages[0]");
        assertThat(e.getMessage()).contains("package 'no-such-package-kiln' is not in");
    }

    @Test
    void shippedSpecMatchesTheMirror() throws Exception {
        assertThat(verify("", "")).isNull();
    }
}
