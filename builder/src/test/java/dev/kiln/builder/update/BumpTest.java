package dev.kiln.builder.update;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.builder.apt.LocalMirror;
import dev.kiln.builder.spec.SpecLoader;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.Manifest;
import java.nio.file.Path;
import java.time.LocalDate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * kiln outdated + kiln bump against a Debian-like mirror on loopback (bookworm, bookworm-security,
 * bookworm-backports): what is reported, and that the rewrite changes only the edited values.
 */
class BumpTest {
    static final LocalDate TODAY = LocalDate.of(2026, 11, 29);
    static LocalMirror mirror;

    @BeforeAll
    static void start() throws Exception {
        mirror = dev.kiln.builder.apt.UpdateIndexTestAccess.debianLike();
    }

    @AfterAll
    static void stop() {
        mirror.close();
    }

    /** Comments and emoji everywhere, flow and block style, quoted and plain scalars. */
    static String spec(String baseExtra) {
        return """
                # yaml-language-server: $schema=kiln-spec.schema.json
                # A spec with comments everywhere \uD83D\uDE00 (emoji: offsets are code points to the parser)
                name: test-node
                version: 1.0.0-20261127.1   # the release
                base:
                  distribution: debian
                  suite: bookworm   # stable
                  mirror: MIRROR/debian
                """.replace("MIRROR", mirror.url("").replaceAll("/$", "")) + baseExtra + """
                kernel: {package: linux-image-6.1.0-50-cloud-amd64, version: "6.1.176-1", cmdline: console=ttyS0}   # flow
                components:
                  containerd:
                    version: 1.6.20
                    package: containerd
                    packageVersion: 1.6.20~ds1-1+deb12u1   # from a point release
                  kubelet: {version: 1.34.2, url: https://dl.k8s.io/release/v1.34.2/bin/linux/amd64/kubelet, sha256: 9c5e717b774ee9b9285ce47e7d2150c29e84837eb19a7eaa24b60b1543c9d58f, install: /usr/bin/kubelet}
                packages:
                  - etcd-client=3.4.23-4+b4  # newest already
                  - 'openssl=3.0.17-1~deb12u2'
                # trailing comment
                """;
    }

    static SpecLoader.Loaded load(String text) throws Exception {
        return SpecLoader.parse(Path.of("test-node.yaml"), text);
    }

    @Test
    void outdatedReportsPinsTheKernelWalkAndWhatItCannotCheck() throws Exception {
        SpecLoader.Loaded spec = load(spec("  # snapshot: 20260711T000000Z   # stays with base\n\n"));

        Outdated.Report r = Outdated.check(spec, null, s -> {});

        assertThat(r.sources())
                .extracting(Outdated.SourceRead::suite)
                .as("the spec's suite, then its -security and -updates suites by default")
                .containsExactly("bookworm", "bookworm-security", "bookworm-updates");
        assertThat(r.sources().get(1).url()).isEqualTo(mirror.url("debian-security"));
        assertThat(r.updates())
                .extracting(
                        Outdated.Item::kind,
                        Outdated.Item::newPkg,
                        Outdated.Item::newest,
                        Outdated.Item::suite,
                        Outdated.Item::security)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(
                                "kernel", "linux-image-6.1.0-57-cloud-amd64", "6.1.192-3", "bookworm-security", true),
                        org.assertj.core.groups.Tuple.tuple(
                                "component", "containerd", "1.6.20~ds1-1+deb12u3", "bookworm", true),
                        org.assertj.core.groups.Tuple.tuple(
                                "package", "openssl", "3.0.18-1~deb12u1", "bookworm-security", true));
        assertThat(r.updates().get(0).via()).isEqualTo("linux-image-cloud-amd64 6.1.192-3 (bookworm-security)");
        assertThat(r.upToDate()).extracting(Outdated.Item::pkg).containsExactly("etcd-client");
        assertThat(r.notChecked())
                .anySatisfy(n -> assertThat(n).startsWith("kubelet 1.34.2: a URL component"))
                .anySatisfy(n -> assertThat(n).startsWith("unpinned packages: no built image of test-node"));
        assertThat(r.exitCode(false)).isEqualTo(Outdated.UPDATES_EXIT);
    }

    @Test
    void bumpRewritesOnlyTheEditedValues() throws Exception {
        String original = spec("  # snapshot: 20260711T000000Z   # stays with base\n\n");
        SpecLoader.Loaded spec = load(original);

        Bump.Result r =
                Bump.apply(spec, Outdated.check(spec, null, s -> {}), new Bump.Selection(false, false), null, TODAY);

        String security = mirror.url("debian-security");
        String expected = original.replace(
                        "version: 1.0.0-20261127.1   # the release", "version: 1.0.1-20261129.1   # the release")
                .replace(
                        "  # snapshot: 20260711T000000Z   # stays with base\n",
                        "  # snapshot: 20260711T000000Z   # stays with base\n  repositories:\n    - {url: "
                                + security
                                + ", suite: bookworm-security}  # added by kiln bump: security updates come from here\n")
                .replace(
                        "{package: linux-image-6.1.0-50-cloud-amd64, version: \"6.1.176-1\",",
                        "{package: linux-image-6.1.0-57-cloud-amd64, version: \"6.1.192-3\",")
                .replace("packageVersion: 1.6.20~ds1-1+deb12u1   #", "packageVersion: 1.6.20~ds1-1+deb12u3   #")
                .replace("'openssl=3.0.17-1~deb12u2'", "'openssl=3.0.18-1~deb12u1'");
        assertThat(expected).isNotEqualTo(original);
        assertThat(r.text()).isEqualTo(expected);
        assertThat(r.newVersion()).isEqualTo("1.0.1-20261129.1");
        assertThat(r.addedRepositories()).containsExactly(security + " bookworm-security");
        assertThat(load(r.text()).spec().base().repositories())
                .singleElement()
                .satisfies(repo -> assertThat(repo.suite()).isEqualTo("bookworm-security"));
        // Bumping the result again finds nothing newer: the new pins are the newest.
        assertThat(Outdated.check(load(r.text()), null, s -> {}).updates()).isEmpty();
    }

    @Test
    void kernelOnlyLeavesTheOtherPinsAndAppendsToAnExistingList() throws Exception {
        String original =
                spec("  repositories:\n    # extra suites\n    - url: https://example.org/debian\n      suite: bookworm\n\n")
                        .replace("https://example.org/debian", mirror.url("debian"));
        SpecLoader.Loaded spec = load(original);

        Bump.Result r =
                Bump.apply(spec, Outdated.check(spec, null, s -> {}), new Bump.Selection(true, false), "2.0.0", TODAY);

        assertThat(r.applied()).extracting(Outdated.Item::kind).containsExactly("kernel");
        assertThat(r.text())
                .contains("    - url: "
                        + mirror.url("debian")
                        + "\n      suite: bookworm\n    - {url: "
                        + mirror.url("debian-security")
                        + ", suite: bookworm-security}  # added by kiln bump")
                .contains("version: 2.0.0   # the release")
                .contains("packageVersion: 1.6.20~ds1-1+deb12u1   #")
                .contains("'openssl=3.0.17-1~deb12u2'");
    }

    @Test
    void flowListsGetTheItemInsideTheBrackets() throws Exception {
        SpecLoader.Loaded spec = load(spec("  repositories: []   # none yet\n"));

        Bump.Result r =
                Bump.apply(spec, Outdated.check(spec, null, s -> {}), new Bump.Selection(true, true), null, TODAY);

        assertThat(r.text())
                .contains("  repositories: [{url: "
                        + mirror.url("debian-security")
                        + ", suite: bookworm-security}]   # none yet\n");
        assertThat(load(r.text()).spec().kernel().packageName()).isEqualTo("linux-image-6.1.0-57-cloud-amd64");
    }

    @Test
    void unpinnedPackagesComeFromTheLastBuiltImage() throws Exception {
        SpecLoader.Loaded spec =
                load(spec("  updates: [{url: " + mirror.url("debian-security") + ", suite: bookworm-security}]\n"));
        Manifest built = Json.MAPPER.readValue("""
                {"schema": 1, "name": "test-node", "version": "1.0.0-20261127.1", "builtAt": "2026-11-27T10:00:00Z",
                 "packages": {"openssl": "3.0.17-1~deb12u2", "containerd": "1.6.20~ds1-1+deb12u1",
                              "libssl-unknown": "1.0-1", "linux-image-6.1.0-50-cloud-amd64": "6.1.176-1"}}
                """, Manifest.class);
        // A spec with no openssl pin: the installed openssl is what is compared.
        SpecLoader.Loaded unpinned = load(spec.text().replace("  - 'openssl=3.0.17-1~deb12u2'\n", ""));

        Outdated.Report r = Outdated.check(unpinned, built, s -> {});

        assertThat(r.sources())
                .extracting(Outdated.SourceRead::suite)
                .as("base.updates replaces the default")
                .containsExactly("bookworm", "bookworm-security");
        assertThat(r.updates())
                .filteredOn(i -> i.kind().equals("installed"))
                .extracting(Outdated.Item::pkg, Outdated.Item::newest)
                .as("pinned packages are reported as pins, not twice; unknown ones are skipped")
                .containsExactly(org.assertj.core.groups.Tuple.tuple("openssl", "3.0.18-1~deb12u1"));
        // --security-only bump of an installed package: only the suite is added (the build takes
        // the new version).
        Bump.Result b = Bump.apply(unpinned, r, new Bump.Selection(false, true), null, TODAY);
        assertThat(b.addedRepositories()).containsExactly(mirror.url("debian-security") + " bookworm-security");
    }

    @Test
    void nothingNewerLeavesTheSpecAlone() throws Exception {
        SpecLoader.Loaded spec = load(spec("  updates: []\n")
                .replace(
                        "6.1.0-50-cloud-amd64, version: \"6.1.176-1\"",
                        "6.1.0-50-cloud-amd64, version: \"6.1.176-1\""));
        // Only bookworm: the kernel and containerd (deb12u3 there) are outdated, openssl is not.
        Outdated.Report r = Outdated.check(spec, null, s -> {});
        assertThat(r.securityUpdates()).isEmpty();
        assertThat(r.exitCode(true)).isZero();

        Bump.Result b = Bump.apply(spec, r, new Bump.Selection(false, true), null, TODAY);

        assertThat(b.changed()).isFalse();
        assertThat(b.text()).isEqualTo(spec.text());
    }

    @Test
    void theNewVersionMustDiffer() throws Exception {
        SpecLoader.Loaded spec = load(spec(""));
        assertThatThrownBy(() -> Bump.apply(
                        spec,
                        Outdated.check(spec, null, s -> {}),
                        new Bump.Selection(true, false),
                        "1.0.0-20261127.1",
                        TODAY))
                .hasMessageContaining("must differ");
    }

    @Test
    void diffShowsOnlyTheChangedLinesWithContext() {
        String diff = UnifiedDiff.of(
                "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n", "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\nl\nm\n", "old", "new");

        assertThat(diff).isEqualTo("""
                --- old
                +++ new
                @@ -1,7 +1,7 @@
                 a
                 b
                 c
                -d
                +D
                 e
                 f
                 g
                @@ -10,4 +10,5 @@
                 j
                 k
                 l
                +m
                 \n""");
    }
}
