package dev.kiln.machines.qemu;

import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A boot disk bigger than the image: a qcow2 overlay whose backing file is the store's disk.raw,
 * with a larger virtual size, as an AMI launched with a bigger volume or the image written to a
 * bigger disk. Writes (the node growing its root, logs, ...) land in the overlay only; QEMU opens
 * the backing file read-only, so the stored image never changes. The overlay keeps its writes
 * across boots of the same machine (unlike {@code -snapshot}), which is what shows that a second
 * boot changes nothing.
 */
public final class DiskOverlay {
    /**
     * File names of overlays end with this: {@link QemuMachine#diskArgs} attaches them as qcow2.
     */
    public static final String SUFFIX = ".kiln-overlay.qcow2";

    private static final long KIB = 1024;
    private static final Pattern SIZE =
            Pattern.compile("(\\d+)(?:\\.(\\d+))?\\s*([KMGT]?)(?:i?B)?", Pattern.CASE_INSENSITIVE);

    private DiskOverlay() {}

    /**
     * Parses a disk size: a number of bytes, or with a binary unit K, M, G or T (also written KiB,
     * GB, ...; all mean powers of 1024, as for qemu-img and EBS), e.g. {@code 8G}, {@code 1.5T},
     * {@code 512MiB}. {@code option} names the option in errors.
     */
    public static long parseSize(String text, String option) {
        Matcher m = SIZE.matcher(text == null ? "" : text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(
                    option + ": expected a size such as 8G, 512M or 1.5T, got '" + text + "'");
        }
        int shift = switch (m.group(3).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            case "T" -> 40;
            default -> 0;
        };
        if (m.group(2) != null && shift == 0) {
            throw new IllegalArgumentException(
                    option + ": a number of bytes cannot have a fraction, got '" + text + "'");
        }
        try {
            java.math.BigDecimal bytes = new java.math.BigDecimal(
                            m.group(1) + (m.group(2) == null ? "" : "." + m.group(2)))
                    .multiply(java.math.BigDecimal.valueOf(1L << shift));
            long value = bytes.setScale(0, java.math.RoundingMode.CEILING).longValueExact();
            if (value <= 0) {
                throw new IllegalArgumentException(option + ": a disk size must be more than 0, got '" + text + "'");
            }
            return value;
        } catch (ArithmeticException tooBig) {
            throw new IllegalArgumentException(option + ": '" + text + "' is too big", tooBig);
        }
    }

    /** {@code 8G}, {@code 1.5G}, {@code 512M}: bytes the way --disk-size takes them. */
    public static String format(long bytes) {
        for (String[] u : new String[][] {{"T", "40"}, {"G", "30"}, {"M", "20"}, {"K", "10"}}) {
            long unit = 1L << Integer.parseInt(u[1]);
            if (bytes >= unit) {
                double v = (double) bytes / unit;
                return (v == Math.rint(v)
                                ? String.format(Locale.ROOT, "%.0f", v)
                                : String.format(Locale.ROOT, "%.1f", v))
                        + u[0];
            }
        }
        return bytes + "B";
    }

    /**
     * Creates {@code dir/NAME.kiln-overlay.qcow2} over {@code image} (a raw disk) with a virtual
     * size of {@code sizeBytes}, rounded up to whole 512-byte sectors. Refuses a size smaller than
     * the image: a disk is never smaller than what was written to it.
     */
    public static Path create(Path image, long sizeBytes, Path dir) throws IOException {
        Path backing = image.toAbsolutePath().normalize();
        long imageBytes = Files.size(backing);
        long size = (sizeBytes + 511) / 512 * 512;
        if (size < imageBytes) {
            throw new IllegalArgumentException("--disk-size "
                    + format(sizeBytes)
                    + " is smaller than the image "
                    + backing.getFileName()
                    + " ("
                    + format(imageBytes)
                    + ", "
                    + imageBytes
                    + " bytes); give at least "
                    + format(imageBytes));
        }
        String name = backing.getFileName().toString().replaceFirst("\\.raw$", "");
        Path overlay = dir.toAbsolutePath().resolve(name + SUFFIX);
        Files.createDirectories(dir);
        Exec.of(
                        "qemu-img",
                        "create",
                        "-q",
                        "-f",
                        "qcow2",
                        "-F",
                        "raw",
                        "-b",
                        backing.toString(),
                        overlay.toString(),
                        Long.toString(size))
                .run();
        return overlay;
    }

    public static boolean isOverlay(Path disk) {
        return disk.getFileName() != null && disk.getFileName().toString().endsWith(SUFFIX);
    }

    /**
     * The image a boot disk shows: an overlay's backing file (read from its qcow2 header), or the
     * disk itself.
     */
    public static Path imageOf(Path disk) throws IOException {
        if (!isOverlay(disk)) {
            return disk;
        }
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ)) {
            // qcow2 header: magic "QFI\xfb", version, backing_file_offset (u64), backing_file_size
            // (u32).
            ByteBuffer h = ByteBuffer.allocate(20);
            while (h.hasRemaining() && ch.read(h, h.position()) > 0) {
                // read the whole header
            }
            h.flip();
            if (h.remaining() < 20 || h.getInt(0) != 0x514649fb) {
                throw new IOException(disk + " is not a qcow2 file");
            }
            long offset = h.getLong(8);
            int length = h.getInt(16);
            if (offset == 0 || length <= 0 || length > 4096) {
                throw new IOException(disk + " has no backing file");
            }
            ByteBuffer name = ByteBuffer.allocate(length);
            while (name.hasRemaining() && ch.read(name, offset + name.position()) > 0) {
                // read the whole name
            }
            return Path.of(new String(name.array(), 0, name.position(), StandardCharsets.UTF_8));
        }
    }
}
