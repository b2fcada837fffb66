package dev.kiln.builder.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.builder.TestImages;
import dev.kiln.builder.TestSupport;
import dev.kiln.builder.build.ImageBuilder;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageDiff;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real builds of image-specs/debian-node.yaml with mmdebstrap against the Debian mirror. */
@Tag("vm")
class DebianNodeBuildTest {
    @TempDir
    Path tmp;

    @Test
    void buildProducesAllOutputsAndAManifestWithThePinnedVersions() throws Exception {
        Manifest m = TestImages.debianNode();
        Path dir = TestImages.dirOf(m);
        assertThat(m.kernel().version()).isEqualTo("6.1.176-1");
        assertThat(m.kernel().release()).isEqualTo("6.1.0-50-cloud-amd64");
        assertThat(m.components().get("containerd").packageVersion()).isEqualTo("1.6.20~ds1-1+deb12u3");
        assertThat(m.packages())
                .containsEntry("containerd", "1.6.20~ds1-1+deb12u3")
                .containsEntry("runc", "1.1.5+ds1-1+deb12u1");
        assertThat(m.artifacts())
                .containsKeys(
                        "rootfs.tar",
                        "disk/disk.raw",
                        "pxe/vmlinuz",
                        "pxe/initrd.img",
                        "pxe/rootfs.squashfs",
                        "pxe/boot.ipxe");
        for (var e : m.artifacts().entrySet()) {
            Path f = dir.resolve(e.getKey());
            assertThat(Files.size(f)).as(e.getKey()).isEqualTo(e.getValue().size());
        }
        assertThat(Hashing.sha256(dir.resolve("pxe/rootfs.squashfs")))
                .isEqualTo(m.artifacts().get("pxe/rootfs.squashfs").sha256());
        assertThat(Files.readString(dir.resolve("pxe/boot.ipxe")))
                .contains("kiln.root.sha256="
                        + m.artifacts().get("pxe/rootfs.squashfs").sha256());
        JsonNode sbom = Json.MAPPER.readTree(dir.resolve("sbom.cdx.json").toFile());
        assertThat(sbom.get("bomFormat").asText()).isEqualTo("CycloneDX");
        assertThat(sbom.get("components").size()).isEqualTo(m.packages().size());
    }

    @Test
    void rootfsCarriesItsIdentityAndIsClean() throws Exception {
        Manifest m = TestImages.debianNode();
        Path tar = TestImages.dirOf(m).resolve("rootfs.tar");
        JsonNode identity = Json.MAPPER.readTree(
                Exec.of("tar", "-xOf", tar.toString(), "./etc/kiln/image.json").run());
        assertThat(identity.get("name").asText()).isEqualTo("debian-node");
        assertThat(identity.get("version").asText()).isEqualTo(m.version());
        assertThat(identity.get("specSha256").asText()).isEqualTo(m.specSha256());
        assertThat(identity.get("kernel").asText()).isEqualTo(m.kernel().release());
        String listing = Exec.of("tar", "-tvf", tar.toString()).run();
        assertThat(listing).doesNotContain("ssh_host_").doesNotContain("/var/lib/apt/lists/deb.");
        assertThat(Exec.of("tar", "-xOf", tar.toString(), "./etc/machine-id").run())
                .isEmpty();
        // The placeholder file keeps its tokens for the node agent; the registry says where they
        // come from.
        assertThat(Exec.of("tar", "-xOf", tar.toString(), "./etc/default/etcd").run())
                .contains("ETCD_NAME=\"@@node_name@@\"");
        JsonNode registry = Json.MAPPER.readTree(Exec.of("tar", "-xOf", tar.toString(), "./etc/kiln/placeholders.json")
                .run());
        assertThat(registry.get("placeholders").get("node_name").asText()).isEqualTo("name");
        assertThat(registry.get("files").has("/etc/default/etcd")).isTrue();
        // Units: what the spec enables is enabled, what it disables is not.
        String wants = "./etc/systemd/system/multi-user.target.wants/";
        assertThat(listing)
                .contains(wants + "containerd.service")
                .contains(wants + "kiln-identity.service")
                .doesNotContain(wants + "etcd.service");
    }

    @Test
    void buildingTheSameVersionAgainIsRefused() throws Exception {
        Manifest m = TestImages.debianNode();
        ImageStore store = TestImages.store();
        assertThatThrownBy(() -> new ImageBuilder(store, TestImages.cacheDir(), dev.kiln.core.progress.Progress.SILENT)
                        .build(TestSupport.repo("image-specs/debian-node.yaml")))
                .isInstanceOf(ImageStore.VersionExistsException.class)
                .hasMessageContaining(m.ref())
                .hasMessageContaining("immutable");
        assertThat(store.manifest(new ImageRef(m.name(), m.version()))).isEqualTo(m);
    }

    @Test
    void changingOnlyAFileReusesThePackageLayer() throws Exception {
        TestImages.debianNode();
        Path spec = copySpec("1.0.0-20261127.2", "outputs: [pxe, disk, rootfs-tar]", "outputs: [rootfs-tar]");
        String yaml = Files.readString(spec)
                .replace(
                        "template: debian-node/join-worker.sh",
                        "content: |\n      #!/bin/sh\n      systemctl start containerd.service\n");
        Files.writeString(spec, yaml);
        TestImages.RecordingProgress progress = new TestImages.RecordingProgress();
        Path dir = new ImageBuilder(TestImages.store(), TestImages.cacheDir(), progress).build(spec);
        assertThat(progress.lines).anyMatch(l -> l.contains("reused cached layer"));
        assertThat(Exec.of("tar", "-xOf", dir.resolve("rootfs.tar").toString(), "./usr/lib/kiln/bootstrap/join-worker")
                        .run())
                .isEqualTo("#!/bin/sh\nsystemctl start containerd.service\n");
    }

    @Test
    void diffBetweenBuildsWithDifferentKernelsShowsTheKernelChange() throws Exception {
        Manifest base = TestImages.debianNode();
        Path spec = copySpec("1.0.0-20261127.3", "outputs: [pxe, disk, rootfs-tar]", "outputs: [rootfs-tar]");
        String yaml = Files.readString(spec)
                .replace(
                        "  package: linux-image-6.1.0-50-cloud-amd64\n  version: 6.1.176-1",
                        "  package: linux-image-6.12.43+deb12-cloud-amd64\n  version: 6.12.43-1~bpo12+1")
                .replace(
                        "  # snapshot:",
                        "  repositories:\n    - url: http://deb.debian.org/debian\n      suite: bookworm-backports\n  # snapshot:");
        Files.writeString(spec, yaml);
        Path dir = new ImageBuilder(TestImages.store(), TestImages.cacheDir(), dev.kiln.core.progress.Progress.SILENT)
                .build(spec);
        ImageDiff diff = ImageDiff.between(
                TestImages.store(),
                new ImageRef(base.name(), base.version()),
                new ImageRef("debian-node", dir.getFileName().toString()));
        assertThat(diff.kernel())
                .extracting(ImageDiff.Change::render)
                .contains("~ kernel version 6.1.176-1 -> 6.12.43-1~bpo12+1")
                .contains("~ kernel release 6.1.0-50-cloud-amd64 -> 6.12.43+deb12-cloud-amd64");
        assertThat(diff.packages())
                .extracting(ImageDiff.Change::what)
                .contains("linux-image-6.1.0-50-cloud-amd64", "linux-image-6.12.43+deb12-cloud-amd64");
        assertThat(diff.contents()).anyMatch(c -> c.what().startsWith("/boot/vmlinuz-6.12.43"));
        assertThat(diff.render(20)).contains("kernel:").contains("6.12.43");
    }

    private Path copySpec(String version, String from, String to) throws Exception {
        Path specDir = tmp.resolve("image-specs");
        Files.createDirectories(specDir);
        Path spec = specDir.resolve("debian-node.yaml");
        String yaml = Files.readString(TestSupport.repo("image-specs/debian-node.yaml"))
                .replace("version: 1.0.0-20261127.1", "version: " + version)
                .replace(from, to)
                .replace(
                        "name: debian-node\n", "name: debian-node\ntemplates: " + TestSupport.repo("templates") + "\n");
        Files.writeString(spec, yaml);
        return spec;
    }
}
