package dev.kiln.aws;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A version in a store made by hand, shaped like a real build (same files, manifest written by
 * ImageStore.Staging.commit) but small: random artifacts, and a sparse 64 MiB disk.raw whose data
 * sits in a few places (aligned and not, spanning blocks), the rest holes.
 */
public final class PublishFixture {
    static final int DISK_MIB = 64;

    /** The 512 KiB blocks of the fixture disk that hold data; every other block is zeros. */
    static final List<Integer> DATA_BLOCKS = List.of(0, 1, 20, 21, 80, 127);

    private PublishFixture() {}

    public static ImageRef version(ImageStore store, String name, String version, String builtAt) throws IOException {
        ImageRef ref = new ImageRef(name, version);
        Random random = new Random((name + version).hashCode());
        try (ImageStore.Staging s = store.stage(ref)) {
            Path d = s.dir();
            write(d.resolve("pxe/vmlinuz"), bytes(random, 1 << 20));
            write(d.resolve("pxe/initrd.img"), bytes(random, 3 << 20));
            // 20 MiB: a multipart upload when the test sets the threshold to 8 MiB (5 MiB parts: 4
            // parts).
            write(d.resolve("pxe/rootfs.squashfs"), bytes(random, 20 << 20));
            write(
                    d.resolve("pxe/boot.ipxe"),
                    ("#!ipxe\nkernel ${kiln-base}/vmlinuz boot=kiln\ninitrd ${kiln-base}/initrd.img\nboot\n")
                            .getBytes(StandardCharsets.UTF_8));
            write(d.resolve("rootfs.tar"), bytes(random, 2 << 20));
            write(d.resolve("contents.tsv.gz"), bytes(random, 4096));
            write(
                    d.resolve("sbom.cdx.json"),
                    ("{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\",\"metadata\":{\"component\":{\"name\":\""
                                    + name
                                    + "\",\"version\":\""
                                    + version
                                    + "\"}}}\n")
                            .getBytes(StandardCharsets.UTF_8));
            sparseDisk(d.resolve("disk/disk.raw"), random);
            Map<String, Manifest.Artifact> artifacts = new TreeMap<>();
            try (Stream<Path> files = Files.walk(d)) {
                for (Path p : files.filter(Files::isRegularFile).toList()) {
                    String rel = d.relativize(p).toString();
                    if (!rel.equals("sbom.cdx.json")) {
                        artifacts.put(rel, new Manifest.Artifact(Hashing.sha256(p), Files.size(p)));
                    }
                }
            }
            s.commit(new Manifest(
                    Manifest.SCHEMA,
                    name,
                    version,
                    "publish test image",
                    Hashing.sha256(name + version),
                    builtAt,
                    1.0,
                    "test",
                    new Manifest.Base("debian", "bookworm", "http://deb.debian.org/debian", null, List.of(), "x"),
                    new Manifest.Kernel(
                            "linux-image-6.1.0-50-cloud-amd64", "6.1.176-1", "6.1.0-50-cloud-amd64", "console=ttyS0"),
                    Map.of(
                            "containerd",
                            new Manifest.Component(
                                    "1.6.20", "debian", "containerd", "1.6.20~ds1-1+deb12u3", null, null),
                            "kubelet",
                            new Manifest.Component(
                                    "1.34.2", "url", null, null, "https://dl.k8s.io/kubelet", "0".repeat(64))),
                    Map.of("containerd", "1.6.20~ds1-1+deb12u3"),
                    List.of(),
                    Map.of(),
                    List.of(),
                    List.of("pxe", "disk", "rootfs-tar"),
                    artifacts,
                    Map.of()));
        }
        return ref;
    }

    private static byte[] bytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static void write(Path p, byte[] data) throws IOException {
        Files.createDirectories(p.getParent());
        Files.write(p, data);
    }

    /**
     * 64 MiB, sparse: data in blocks 0-1 (1 MiB at 0), 20-21 (unaligned, 700 KiB at 10 MiB + 1000),
     * 80 (one byte), 127 (the end).
     */
    private static void sparseDisk(Path p, Random random) throws IOException {
        Files.createDirectories(p.getParent());
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength((long) DISK_MIB << 20);
            f.seek(0);
            f.write(bytes(random, 1 << 20));
            f.seek((10L << 20) + 1000);
            f.write(bytes(random, 700 << 10));
            f.seek(40L << 20);
            f.write(new byte[] {42});
            f.seek(((long) DISK_MIB << 20) - (64 << 10));
            f.write(bytes(random, 64 << 10));
        }
    }
}
