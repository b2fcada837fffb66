package dev.kiln.machines.bmc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where a BMC password comes from, and that it is never printed. */
class SecretTest {
    @TempDir
    Path tmp;

    @Test
    void aPasswordFileGivesItsFirstLineAndNoMessageShowsIt() throws Exception {
        Path file = Files.writeString(tmp.resolve("m1.pass"), "s3cr3t-pw\n");
        Secret s = Secret.fromFile(file);
        assertThat(s.reveal()).isEqualTo("s3cr3t-pw");
        BmcEndpoint e =
                new BmcEndpoint("m1", "10.0.9.11", "admin", s, null, null, false, false, Duration.ofSeconds(1), null);
        assertThat(e.toString()).doesNotContain("s3cr3t-pw").contains("password from file " + file);
        assertThat(new BmcException(e, BmcException.Kind.AUTH, "refused").getMessage())
                .isEqualTo("node m1, BMC 10.0.9.11: refused");
    }

    @Test
    void aMissingFileOrVariableIsNamed() throws Exception {
        assertThatThrownBy(() -> Secret.fromFile(tmp.resolve("none.pass")))
                .hasMessage("BMC password file " + tmp.resolve("none.pass") + " does not exist");
        Files.writeString(tmp.resolve("empty.pass"), "\n");
        assertThatThrownBy(() -> Secret.fromFile(tmp.resolve("empty.pass"))).hasMessageContaining("is empty");
        assertThatThrownBy(() -> Secret.fromEnv("KILN_M1_BMC", Map.<String, String>of()::get))
                .hasMessage("environment variable KILN_M1_BMC (the BMC password) is not set");
        assertThat(Secret.fromEnv("KILN_M1_BMC", Map.of("KILN_M1_BMC", "pw")::get)
                        .reveal())
                .isEqualTo("pw");
    }
}
