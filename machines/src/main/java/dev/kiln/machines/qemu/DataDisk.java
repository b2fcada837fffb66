package dev.kiln.machines.qemu;

import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * An extra disk of a QEMU machine, as a server's local data disk or an instance-store/EBS data
 * volume: a sparse raw file in the machine's directory (so it costs what is written to it, and dies
 * with the run directory). Raw, not qcow2: QEMU keeps no metadata of its own in memory, so a
 * killed QEMU (a power cut) loses nothing the guest's kernel had written out.
 *
 * @param bytes the disk's size
 * @param filesystem null for a blank disk; else the disk already carries this filesystem (made
 *     with mkfs.FILESYSTEM on the file before boot), as a disk with someone else's data does
 * @param label the label of that filesystem (may be null)
 * @param file an existing disk file the caller owns (attached as it is, never created or removed),
 *     or null for one in the machine's directory
 */
public record DataDisk(long bytes, String filesystem, String label, Path file) {
    public DataDisk {
        if (bytes < 1 << 20) {
            throw new IllegalArgumentException("a data disk needs at least 1M, got " + bytes + " bytes");
        }
        if (filesystem != null && !filesystem.matches("ext4|xfs|vfat")) {
            throw new IllegalArgumentException("a pre-formatted data disk is ext4, xfs or vfat, not " + filesystem);
        }
    }

    public static DataDisk blank(long bytes) {
        return new DataDisk(bytes, null, null, null);
    }

    /** A disk that already carries a filesystem (someone else's data, as far as kiln knows). */
    public static DataDisk formatted(long bytes, String filesystem, String label) {
        return new DataDisk(bytes, Objects.requireNonNull(filesystem), label, null);
    }

    /** An existing raw disk file the caller keeps (e.g. to look at it after the machine is gone). */
    public static DataDisk existing(Path file) throws IOException {
        return new DataDisk(Files.size(file), null, null, file);
    }

    /** The serial a node sees on its {@code index}th data disk: kiln-NODE-dINDEX (virtio: 20 chars). */
    public static String serial(String node, int index) {
        String s = "kiln-" + node + "-d" + index;
        return s.length() <= 20 ? s : s.substring(s.length() - 20);
    }

    /**
     * Creates each disk's file in {@code dir} (data0.raw, ...; an existing one is kept, so a
     * machine that is powered on again finds its data) and returns the QEMU arguments that attach
     * them after the boot disk: virtio-blk for PXE machines, NVMe as on EC2 Nitro. Each has the
     * serial {@link #serial}, and {@code snapshot=off}: a data disk keeps its writes even when the
     * boot disk runs under -snapshot.
     */
    public static List<String> attach(List<DataDisk> disks, Path dir, String node, QemuMachine.Bus bus)
            throws IOException {
        List<String> args = new ArrayList<>();
        Files.createDirectories(dir);
        for (int i = 0; i < disks.size(); i++) {
            DataDisk d = disks.get(i);
            Path file = d.file() != null ? d.file() : dir.resolve("data" + i + ".raw");
            if (!Files.exists(file)) {
                d.create(file);
            }
            String id = "data" + i;
            args.addAll(List.of(
                    "-drive",
                    "if=none,id=" + id + ",format=raw,snapshot=off,file=" + file,
                    "-device",
                    (bus == QemuMachine.Bus.NVME ? "nvme" : "virtio-blk-pci") + ",drive=" + id + ",serial="
                            + serial(node, i)));
        }
        return args;
    }

    private void create(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (RandomAccessFile f = new RandomAccessFile(tmp.toFile(), "rw")) {
            f.setLength(bytes); // sparse
        }
        if (filesystem != null) {
            List<String> cmd = new ArrayList<>();
            switch (filesystem) {
                case "ext4" -> cmd.addAll(List.of("mkfs.ext4", "-q", "-F"));
                case "xfs" -> cmd.addAll(List.of("mkfs.xfs", "-q", "-f"));
                default -> cmd.addAll(List.of("mkfs.vfat"));
            }
            if (label != null) {
                cmd.addAll(List.of(filesystem.equals("vfat") ? "-n" : "-L", label));
            }
            cmd.add(tmp.toString());
            Exec.of(cmd).run();
        }
        Files.move(tmp, file);
    }

    @Override
    public String toString() {
        return (file == null ? "" : file.getFileName() + " ")
                + DiskOverlay.format(bytes)
                + (filesystem == null ? "" : " " + filesystem + (label == null ? "" : " '" + label + "'"));
    }
}
