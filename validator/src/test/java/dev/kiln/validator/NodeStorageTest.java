package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.machines.qemu.DataDisk;
import dev.kiln.validator.provider.DataDisks;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Node-local disks (debian-node's storage: keeps /var/lib/etcd and /var/lib/containerd on a data
 * disk of 8G or more) that kiln must refuse: a validation run (kiln validate with data disks) where
 * a master whose disk carries someone else's filesystem and a worker with two equally large disks
 * fail, naming the disks, and their disks stay as they were. What a data disk keeps and loses
 * (formatted on first boot, wiped by a rollout's reimage, kept through a power cut of every master)
 * is shown on the rollout lab, RolloutLabTest, which has data disks on every machine.
 */
@Tag("vm")
class NodeStorageTest {
    private static final long GIB8 = 8L << 30;

    @TempDir
    Path tmp;

    @Test
    void ambiguousAndForeignDisksFailTheNodeNamingThemAndAreLeftUntouched() throws Exception {
        Manifest image = TestImages.debianNode();
        Path disks = Files.createDirectories(tmp.resolve("disks"));
        Path m1 = sparse(disks.resolve("m1.raw"));
        Exec.of("mkfs.ext4", "-q", "-F", "-L", "backup", m1.toString()).run();
        String superblock = Exec.of("dumpe2fs", "-h", m1.toString()).run();
        Path w1a = sparse(disks.resolve("w1-a.raw"));
        Path w1b = sparse(disks.resolve("w1-b.raw"));
        Path tmpRoot = Files.createDirectories(tmp.resolve("tmp"));

        ValidationReport r = Validator.run(new Validator.Request(
                        dev.kiln.core.store.ImageSource.local(TestImages.store()),
                        ImageRef.parse(image.ref()),
                        "qemu-pxe",
                        1,
                        1,
                        Duration.ofSeconds(600),
                        tmp.resolve("reports"),
                        tmpRoot,
                        System.out::println)
                .withDataDisks(new DataDisks(
                        List.of(),
                        Map.of(
                                "m1",
                                List.of(DataDisk.existing(m1)),
                                "w1",
                                List.of(DataDisk.existing(w1a), DataDisk.existing(w1b))))));

        assertThat(r.passed()).isFalse();
        Map<String, ValidationReport.Node> nodes = new LinkedHashMap<>();
        r.nodes().forEach(n -> nodes.put(n.name(), n));
        assertThat(nodes.get("m1").failure().step()).isEqualTo("storage");
        assertThat(nodes.get("m1").failure().error())
                .contains("storage data: /dev/vda (8.0G, serial kiln-m1-d0) carries ext4 labelled 'backup', not"
                        + " kiln's label 'kiln-data': left untouched")
                .contains("takeover: true");
        assertThat(nodes.get("m1").console())
                .as("a failed qemu-pxe node keeps the end of its console")
                .isNotEmpty();
        assertThat(nodes.get("w1").failure().step()).isEqualTo("storage");
        assertThat(nodes.get("w1").failure().error())
                .contains("storage data: 2 disks match {minSize: 8G, pick: largest}")
                .contains("/dev/vda (8.0G, serial kiln-w1-d0), /dev/vdb (8.0G, serial kiln-w1-d1)")
                .contains("refusing to choose (fail closed)");
        // Not a byte written: the foreign disk was never even mounted, the ambiguous ones are holes.
        assertThat(Exec.of("dumpe2fs", "-h", m1.toString()).run()).isEqualTo(superblock);
        assertThat(allocatedBlocks(w1a)).isZero();
        assertThat(allocatedBlocks(w1b)).isZero();
        assertThat(Leftovers.of(r.runId(), tmpRoot)).isEmpty();
    }

    private static Path sparse(Path file) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(GIB8);
        }
        return file;
    }

    private static long allocatedBlocks(Path file) throws Exception {
        return Long.parseLong(Exec.of("stat", "-c", "%b", file.toString()).run().strip());
    }
}
