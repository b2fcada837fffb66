package dev.kiln.builder.repro;

import dev.kiln.core.util.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Locale;
import java.util.UUID;

/**
 * Identifiers that tools would otherwise pick at random (GPT disk and partition GUIDs, file system
 * UUIDs, the ext4 directory hash seed, the FAT volume id), derived from a seed instead: the image's
 * name and version. A rebuild of a version gets the same ones, and no two versions share them (a
 * version is immutable, so name + version names one image). Formatted as version-4 UUIDs, as
 * systemd does for its hashed ids, so no tool that checks the version bits is upset.
 */
public final class DerivedIds {
    private final String seed;

    public DerivedIds(String seed) {
        this.seed = seed;
    }

    /** The seed of an image: its name and version. */
    public static DerivedIds forImage(String name, String version) {
        return new DerivedIds(name + ":" + version);
    }

    /** A UUID for one purpose ("gpt-disk", "ext4-root", ...) of this seed. */
    public UUID uuid(String purpose) {
        byte[] b = HexFormat.of().parseHex(Hashing.sha256("kiln-id\0" + seed + "\0" + purpose));
        b[6] = (byte) ((b[6] & 0x0f) | 0x40);
        b[8] = (byte) ((b[8] & 0x3f) | 0x80);
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 8; i++) {
            hi = (hi << 8) | (b[i] & 0xff);
            lo = (lo << 8) | (b[i + 8] & 0xff);
        }
        return new UUID(hi, lo);
    }

    /** 8 hex digits, as mkfs.fat -i takes it. */
    public String fatVolumeId(String purpose) {
        return Hashing.sha256(("kiln-fat-id\0" + seed + "\0" + purpose).getBytes(StandardCharsets.UTF_8))
                .substring(0, 8)
                .toUpperCase(Locale.ROOT);
    }
}
