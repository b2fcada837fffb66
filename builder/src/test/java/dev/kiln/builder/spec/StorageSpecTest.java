package dev.kiln.builder.spec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestSupport;
import dev.kiln.core.yaml.YamlProblem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The spec's storage: section: mistakes fail at file:line:col naming the field and what was
 * expected, all at once; a good section becomes what the node reads (/etc/kiln/storage.json).
 */
class StorageSpecTest {
    private static final String BASE = """
            name: test-node
            version: 1.0.0
            base:
              distribution: debian
              suite: bookworm
            kernel:
              package: linux-image-6.1.0-50-cloud-amd64
              version: 6.1.176-1
            """;

    @TempDir
    Path dir;

    private SpecLoader.Loaded load(String storage) throws Exception {
        Path spec = dir.resolve("spec.yaml");
        Files.writeString(spec, BASE + storage);
        return SpecLoader.load(spec);
    }

    private SpecException fails(String storage) throws Exception {
        SpecLoader.Loaded loaded = load(storage);
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> SpecChecker.check(loaded));
        assertThat(t).isInstanceOf(SpecException.class);
        return (SpecException) t;
    }

    @Test
    void aGoodSectionIsNormalizedForTheNodeWithDefaultsAndBytes() throws Exception {
        SpecLoader.Loaded loaded = load("""
                storage:
                  - name: data
                    match: {minSize: 8G, pick: largest}
                    mount: /var/lib/kiln-data
                    binds: [/var/lib/etcd, /var/lib/containerd]
                  - name: scratch
                    match: {serial: "vol0*", model: "Amazon EC2 NVMe*", maxSize: 2T}
                    filesystem: xfs
                    mount: /scratch
                    wipe: never
                    required: false
                """);
        SpecChecker.check(loaded);

        List<Map<String, Object>> node = StorageSpec.normalized(loaded.spec().storage());

        assertThat(node.get(0))
                .containsEntry("filesystem", "ext4")
                .containsEntry("label", "kiln-data")
                .containsEntry("wipe", "on-reimage")
                .containsEntry("required", true)
                .containsEntry("takeover", false)
                .containsEntry("binds", List.of("/var/lib/etcd", "/var/lib/containerd"));
        assertThat(node.get(0).get("match"))
                .isEqualTo(Map.of("minBytes", 8L << 30, "pick", "largest", "text", "{minSize: 8G, pick: largest}"));
        assertThat(node.get(1).get("match"))
                .isEqualTo(Map.of(
                        "maxBytes",
                        2L << 40,
                        "serial",
                        "vol0*",
                        "model",
                        "Amazon EC2 NVMe*",
                        "pick",
                        "only",
                        "text",
                        "{maxSize: 2T, serial: vol0*, model: Amazon EC2 NVMe*, pick: only}"));
        assertThat(node.get(1)).containsEntry("label", "kiln-scratch").containsEntry("required", false);
    }

    @Test
    void everyMistakeIsReportedAtItsLineWithWhatWasExpected() throws Exception {
        SpecException e = fails("""
                storage:
                  - name: Data
                    match: {minSize: 8 gigs, pick: first}
                    filesystem: btrfs
                    label: "this label is far too long"
                    mount: relative/path
                    binds: [/etc/kiln, /var/lib/etcd, /var/lib/etcd]
                    wipe: sometimes
                """);
        assertThat(e.problems())
                .extracting(YamlProblem::field)
                .containsExactlyInAnyOrder(
                        "storage[0].name",
                        "storage[0].match.minSize",
                        "storage[0].match.pick",
                        "storage[0].filesystem",
                        "storage[0].label",
                        "storage[0].wipe",
                        "storage[0].mount",
                        "storage[0].binds[0]",
                        "storage[0].binds[2]");
        YamlProblem size = e.problems().stream()
                .filter(p -> p.field().equals("storage[0].match.minSize"))
                .findFirst()
                .orElseThrow();
        assertThat(size.toString()).startsWith(dir.resolve("spec.yaml") + ":11:");
        assertThat(size.message()).contains("expected a size like 8G").contains("'8 gigs'");
        assertThat(e.getMessage())
                .contains("expected ext4 or xfs, got 'btrfs'")
                .contains("/etc/kiln is under /etc, which belongs to the image")
                .contains("/var/lib/etcd is already used by storage[0].binds[1]")
                .contains("expected on-reimage");
    }

    @Test
    void aDiskIsNeverTakenWithoutARuleAndNestedPathsAreRefused() throws Exception {
        SpecException e = fails("""
                storage:
                  - name: data
                    match: {pick: largest}
                    mount: /var/lib/kiln-data
                    binds: [/var/lib/kiln-data/etcd]
                """);
        assertThat(e.getMessage())
                .contains("storage[0].match: expected at least one rule")
                .contains("storage[0].binds[0]: /var/lib/kiln-data/etcd and /var/lib/kiln-data")
                .contains("nested");
    }

    @Test
    void unknownAndMissingFieldsAreNamed() throws Exception {
        Path spec = dir.resolve("spec.yaml");
        Files.writeString(spec, BASE + "storage:\n  - name: data\n    mount: /d\n");
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> SpecLoader.load(spec));
        assertThat(t).isInstanceOf(SpecException.class);
        assertThat(t.getMessage()).contains("spec.yaml:10:").contains("storage[0].match: missing required field");

        Files.writeString(
                spec,
                BASE + "storage:\n  - name: data\n    match: {minSize: 8G}\n    mount: /d\n    device: /dev/sdb\n");
        t = org.assertj.core.api.Assertions.catchThrowable(() -> SpecLoader.load(spec));
        assertThat(t).isInstanceOf(SpecException.class);
        assertThat(t.getMessage())
                .contains("spec.yaml:13:")
                .contains("storage[0].device")
                .contains("unknown field 'device'");
    }

    @Test
    void theShippedDebianNodeKeepsEtcdAndContainerdOnAnOptionalDataDisk() throws Exception {
        SpecLoader.Loaded loaded = SpecLoader.load(TestSupport.repo("image-specs/debian-node.yaml"));
        SpecChecker.check(loaded);
        Map<String, Object> data =
                StorageSpec.normalized(loaded.spec().storage()).get(0);
        assertThat(data)
                .containsEntry("name", "data")
                .containsEntry("required", false)
                .containsEntry("wipe", "on-reimage")
                .containsEntry("binds", List.of("/var/lib/etcd", "/var/lib/containerd"));
    }
}
