package dev.kiln.fleet;

import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A hand-made image store: artifact files plus a manifest.json listing them, no image build. */
public final class TestStore {
    private TestStore() {}

    /** Writes NAME/VERSION with these files (relative path → bytes), all listed in the manifest. */
    static Path version(ImageStore store, String name, String version, Map<String, byte[]> files) throws IOException {
        Path dir = store.root().resolve(name).resolve(version);
        Map<String, Manifest.Artifact> artifacts = new LinkedHashMap<>();
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            Path p = dir.resolve(f.getKey());
            Files.createDirectories(p.getParent());
            Files.write(p, f.getValue());
            artifacts.put(f.getKey(), new Manifest.Artifact(Hashing.sha256(f.getValue()), f.getValue().length));
        }
        Manifest m = new Manifest(
                Manifest.SCHEMA,
                name,
                version,
                "test image",
                "0".repeat(64),
                "2026-11-27T00:00:00Z",
                1.0,
                "test",
                null,
                new Manifest.Kernel("linux-image-test", "1", "6.1.0-test", ""),
                Map.of(),
                Map.of(),
                List.of(),
                Map.of(),
                List.of(),
                List.of("pxe"),
                artifacts,
                null);
        Json.MAPPER.writeValue(dir.resolve(ImageStore.MANIFEST).toFile(), m);
        return dir;
    }

    /** A PXE-bootable version whose rootfs.squashfs is {@code rootfsSize} pseudo-random bytes. */
    public static Path pxeVersion(ImageStore store, String name, String version, int rootfsSize) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("pxe/vmlinuz", ("kernel of " + name + ":" + version).getBytes(StandardCharsets.UTF_8));
        files.put("pxe/initrd.img", ("initrd of " + name + ":" + version).getBytes(StandardCharsets.UTF_8));
        files.put("pxe/rootfs.squashfs", randomBytes(rootfsSize, 42));
        files.put(
                "pxe/boot.ipxe",
                "#!ipxe\nkernel ${kiln-base}/pxe/vmlinuz ${kiln-args}\n".getBytes(StandardCharsets.UTF_8));
        return version(store, name, version, files);
    }

    static byte[] randomBytes(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }
}
