package dev.kiln.builder.build;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HygieneTest {
    @TempDir
    Path root;

    private void file(String path, String content) throws Exception {
        Path p = root.resolve(path);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }

    @Test
    void cleanRemovesWhatMustNotBeBakedAndVerifyThenPasses() throws Exception {
        file("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        file("etc/ssh/ssh_host_ed25519_key", "-----BEGIN OPENSSH PRIVATE KEY-----\n");
        file("etc/ssh/sshd_config", "PermitRootLogin no\n");
        file("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", "x");
        file("var/lib/apt/lists/lock", "");
        file("var/cache/apt/archives/containerd.deb", "x");
        file("etc/hostname", "build-host\n");
        assertThat(Hygiene.verify(root)).hasSizeGreaterThanOrEqualTo(4);

        Hygiene.clean(root);

        assertThat(Hygiene.verify(root)).isEmpty();
        assertThat(root.resolve("etc/machine-id")).isEmptyFile();
        assertThat(root.resolve("etc/ssh/sshd_config")).exists();
        assertThat(root.resolve("var/lib/apt/lists/lock")).exists();
        assertThat(root.resolve("etc/hostname")).hasContent("localhost");
    }

    @Test
    void verifyNamesALeftoverSecret() throws Exception {
        file("etc/machine-id", "");
        file("opt/build/deploy.pem", "-----BEGIN RSA PRIVATE KEY-----\nMII...\n");
        assertThat(Hygiene.verify(root)).containsExactly("/opt/build/deploy.pem: contains a private key");
    }
}
