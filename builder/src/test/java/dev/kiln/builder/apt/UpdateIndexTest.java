package dev.kiln.builder.apt;

import static dev.kiln.builder.apt.LocalMirror.pkg;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The update index over a real HTTP mirror on loopback, laid out as deb.debian.org is. */
class UpdateIndexTest {
    static LocalMirror mirror;
    static UpdateIndex index;

    /**
     * bookworm (a point release), bookworm-security, and bookworm-backports (NotAutomatic, as
     * Debian's).
     */
    static LocalMirror debianLike() throws Exception {
        return new LocalMirror()
                .suite(
                        "debian",
                        "bookworm",
                        "Label: Debian\n",
                        pkg("linux-image-6.1.0-50-cloud-amd64", "6.1.176-1", "kmod, linux-base (>= 4.3~)"),
                        pkg("linux-image-cloud-amd64", "6.1.176-1", "linux-image-6.1.0-50-cloud-amd64 (= 6.1.176-1)"),
                        pkg("linux-image-6.1.0-50-rt-amd64", "6.1.176-1", null),
                        pkg("containerd", "1.6.20~ds1-1+deb12u3", null),
                        pkg("openssl", "3.0.17-1~deb12u2", null),
                        pkg("etcd-client", "3.4.23-4+b4", null))
                .suite(
                        "debian-security",
                        "bookworm-security",
                        "Label: Debian-Security\n",
                        pkg("linux-image-6.1.0-56-cloud-amd64", "6.1.192-2", null),
                        pkg("linux-image-6.1.0-57-cloud-amd64", "6.1.192-3", null),
                        pkg(
                                "linux-image-cloud-amd64",
                                "6.1.192-3",
                                "linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3) | linux-image-6.1.0-56-cloud-amd64"),
                        // another flavour's newer ABI must not be taken for the cloud kernel
                        pkg("linux-image-6.1.0-60-rt-amd64", "6.1.200-1", null),
                        pkg("linux-image-rt-amd64", "6.1.200-1", "linux-image-6.1.0-60-rt-amd64 (= 6.1.200-1)"),
                        pkg("containerd", "1.6.20~ds1-1+deb12u2", null),
                        pkg("openssl", "3.0.18-1~deb12u1", null))
                .suite("debian", "bookworm-updates", "Label: Debian\n")
                .suite(
                        "debian",
                        "bookworm-backports",
                        "Label: Debian Backports\nNotAutomatic: yes\nButAutomaticUpgrades: yes\n",
                        pkg("linux-image-6.12.30+bpo-cloud-amd64", "6.12.30-1~bpo12+1", null),
                        pkg("linux-image-6.12.38+bpo-cloud-amd64", "6.12.38-1~bpo12+1", null),
                        pkg(
                                "linux-image-cloud-amd64",
                                "6.12.38-1~bpo12+1",
                                "linux-image-6.12.38+bpo-cloud-amd64 (= 6.12.38-1~bpo12+1)"),
                        pkg("containerd", "1.7.24~ds1-1~bpo12+1", null));
    }

    @BeforeAll
    static void read() throws Exception {
        mirror = debianLike();
        index = UpdateIndex.read(
                List.of(
                        new AptIndex.Source(mirror.url("debian"), "bookworm", List.of("main")),
                        new AptIndex.Source(mirror.url("debian-security"), "bookworm-security", List.of("main")),
                        new AptIndex.Source(mirror.url("debian"), "bookworm-backports", List.of("main"))),
                "amd64",
                s -> {});
    }

    @AfterAll
    static void stop() {
        mirror.close();
    }

    @Test
    void originsKnowSecurityAndNotAutomaticFromTheirReleaseFiles() {
        assertThat(index.origins()).extracting(UpdateIndex.Origin::security).containsExactly(false, true, false);
        assertThat(index.origins()).extracting(UpdateIndex.Origin::notAutomatic).containsExactly(false, false, true);
    }

    @Test
    void kernelFollowsItsFlavourMetapackageToTheNewestAbiPackage() {
        UpdateIndex.KernelWalk w =
                index.kernel("linux-image-6.1.0-50-cloud-amd64", "6.1.176-1").orElseThrow();

        assertThat(w.metapackage()).isEqualTo("linux-image-cloud-amd64");
        assertThat(w.metaVersion()).hasToString("6.1.192-3");
        assertThat(w.metaOrigin().source().suite()).isEqualTo("bookworm-security");
        assertThat(w.target()).isEqualTo("linux-image-6.1.0-57-cloud-amd64");
        assertThat(w.newest().version()).hasToString("6.1.192-3");
        assertThat(w.newest().security()).isTrue();
        // backports holds a newer meta (6.12), but a stable kernel does not follow backports, as
        // apt does not
    }

    @Test
    void aBackportsKernelFollowsBackports() {
        UpdateIndex.KernelWalk w = index.kernel("linux-image-6.12.30+bpo-cloud-amd64", "6.12.30-1~bpo12+1")
                .orElseThrow();

        assertThat(w.target()).isEqualTo("linux-image-6.12.38+bpo-cloud-amd64");
        assertThat(w.newest().origin().source().suite()).isEqualTo("bookworm-backports");
        assertThat(w.newest().security()).isFalse();
    }

    @Test
    void kernelAtTheNewestAbiOrWithoutFlavourHasNoWalk() {
        assertThat(index.kernel("linux-image-6.1.0-57-cloud-amd64", "6.1.192-3"))
                .isEmpty();
        assertThat(index.kernel("linux-image-6.1.0-50-nosuch-amd64", "6.1.176-1"))
                .as("no metapackage")
                .isEmpty();
        assertThat(UpdateIndex.kernelMetapackage("linux-image-6.1.0-50-rt-amd64"))
                .contains("linux-image-rt-amd64");
        assertThat(UpdateIndex.kernelMetapackage("linux-image-6.12.38+bpo-cloud-amd64"))
                .contains("linux-image-cloud-amd64");
        assertThat(UpdateIndex.kernelMetapackage("linux-image-amd64")).isEmpty();
    }

    @Test
    void neverSuggestsALowerVersionOrABackport() {
        // security has deb12u2, the point release deb12u3, backports 1.7: nothing apt would upgrade
        // to
        assertThat(index.newest("containerd", "1.6.20~ds1-1+deb12u3")).isEmpty();
        UpdateIndex.Newest older =
                index.newest("containerd", "1.6.20~ds1-1+deb12u1").orElseThrow();
        assertThat(older.version()).hasToString("1.6.20~ds1-1+deb12u3");
        assertThat(older.origin().source().suite()).isEqualTo("bookworm");
        assertThat(older.security())
                .as("deb12u2 in the security suite is newer than deb12u1")
                .isTrue();
        assertThat(index.newest("etcd-client", "3.4.23-4+b4")).isEmpty();
    }

    @Test
    void aSecurityUpdateNamesItsSuite() {
        UpdateIndex.Newest n = index.newest("openssl", "3.0.17-1~deb12u2").orElseThrow();
        assertThat(n.version()).hasToString("3.0.18-1~deb12u1");
        assertThat(n.origin().source().url()).isEqualTo(mirror.url("debian-security"));
        assertThat(n.security()).isTrue();
    }

    @Test
    void aMissingSuiteIsAClearError() {
        assertThatThrownBy(() -> UpdateIndex.read(
                        List.of(new AptIndex.Source(mirror.url("debian"), "trixie-security", List.of("main"))),
                        "amd64",
                        s -> {}))
                .hasMessageContaining("dists/trixie-security/")
                .hasMessageContaining("InRelease");
    }
}
