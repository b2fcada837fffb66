package dev.kiln.builder.repro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.builder.apt.ReleaseDate;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class DerivedIdsTest {
    @Test
    void idsAreTheSameForTheSameVersionAndDifferForAnother() {
        DerivedIds a = DerivedIds.forImage("debian-node", "1.0.0");
        assertThat(a.uuid("gpt-disk"))
                .isEqualTo(DerivedIds.forImage("debian-node", "1.0.0").uuid("gpt-disk"));
        assertThat(a.uuid("gpt-disk")).isNotEqualTo(a.uuid("gpt-root"));
        assertThat(a.uuid("gpt-disk"))
                .isNotEqualTo(DerivedIds.forImage("debian-node", "1.0.1").uuid("gpt-disk"));
        assertThat(a.uuid("gpt-disk").version()).isEqualTo(4);
        assertThat(a.uuid("gpt-disk").variant()).isEqualTo(2);
        assertThat(a.fatVolumeId("esp"))
                .matches("[0-9A-F]{8}")
                .isNotEqualTo(DerivedIds.forImage("debian-node", "1.0.1").fatVolumeId("esp"));
    }

    @Test
    void sourceDateComesFromTheNewestReleaseDateElseTheSnapshot() {
        byte[] release = ("Origin: Debian\nSuite: stable\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nValid-Until: x\n")
                .getBytes(StandardCharsets.UTF_8);
        Instant date = ReleaseDate.of(release);
        assertThat(date).isEqualTo(Instant.parse("2026-07-11T10:16:37Z"));
        assertThat(ReleaseDate.of("Date: Sat, 11 Jul 2026 12:16:37 +0200\n".getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(date);
        assertThat(SourceDate.of(date, "20250101T000000Z").epoch()).isEqualTo(date.getEpochSecond());
        SourceDate fromSnapshot = SourceDate.of(null, "20260711T000000Z");
        assertThat(fromSnapshot.iso()).isEqualTo("2026-07-11T00:00:00Z");
        assertThat(fromSnapshot.from()).contains("base.snapshot");
        assertThatThrownBy(() -> SourceDate.of(null, null))
                .hasMessageContaining("Date:")
                .hasMessageContaining("base.snapshot");
    }
}
