package dev.kiln.builder.update;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.builder.spec.ImageSpec;
import dev.kiln.builder.spec.SpecLoader;
import java.nio.file.Path;
import java.time.LocalDate;
import org.junit.jupiter.api.Test;

class NextVersionTest {
    static final LocalDate TODAY = LocalDate.of(2026, 11, 29);

    static ImageSpec spec(String version, String componentVersion) throws Exception {
        return SpecLoader.parse(
                        Path.of("s.yaml"),
                        "name: s\nversion: "
                                + version
                                + "\nbase: {distribution: debian, suite: bookworm}\nkernel: {package: linux-image-amd64, version: '1'}\n"
                                + "components: {kubelet: {version: "
                                + componentVersion
                                + ", url: https://x/kubelet, sha256: aa, install: /usr/bin/kubelet}}\n")
                .spec();
    }

    @Test
    void nextPatchTodayBuildOne() throws Exception {
        assertThat(NextVersion.after(spec("1.0.0-20261127.1", "9.9.9"), TODAY)).isEqualTo("1.0.1-20261129.1");
        assertThat(NextVersion.after(spec("1.0.1-20261129.1", "9.9.9"), TODAY))
                .as("twice a day")
                .isEqualTo("1.0.2-20261129.1");
        assertThat(NextVersion.after(spec("2.3.9", "9.9.9"), TODAY)).isEqualTo("2.3.10");
    }

    @Test
    void aComponentsVersionStaysAndOnlyTheDateMoves() throws Exception {
        assertThat(NextVersion.after(spec("1.34.2-20261127.1", "1.34.2"), TODAY))
                .isEqualTo("1.34.2-20261129.1");
        assertThat(NextVersion.after(spec("1.34.2-20261129.1", "1.34.2"), TODAY))
                .isEqualTo("1.34.2-20261129.2");
    }

    @Test
    void dateBuildScheme() throws Exception {
        assertThat(NextVersion.after(spec("20261127.4", "1"), TODAY)).isEqualTo("20261129.1");
        assertThat(NextVersion.after(spec("20261129.4", "1"), TODAY)).isEqualTo("20261129.5");
    }

    @Test
    void anUnknownSchemeAsksForVersion() throws Exception {
        assertThatThrownBy(() -> NextVersion.after(spec("blue-7", "1"), TODAY)).hasMessageContaining("--version");
    }
}
