package dev.kiln.builder.artifact;

import static dev.kiln.builder.artifact.GptLayout.ESP_LBA;
import static dev.kiln.builder.artifact.GptLayout.MIB;
import static dev.kiln.builder.artifact.GptLayout.ROOT_LBA;
import static dev.kiln.builder.artifact.GptLayout.SECTOR;

import dev.kiln.builder.artifact.RootFilesystem.RootfsUsage;
import dev.kiln.builder.repro.DerivedIds;
import dev.kiln.core.progress.Progress;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Turns a staged root filesystem directory into {@code disk.raw}: a GPT disk that boots under
 * legacy BIOS (SeaBIOS, EC2 legacy) and UEFI (OVMF, EC2 UEFI) alike.
 *
 * <p>Everything is built from plain files, without loop devices, mounts or chroot, so it works in
 * unprivileged containers (as long as the staged rootfs itself carries the right ownership):
 *
 * <pre>
 *   LBA 0            protective MBR + GRUB boot.img (patched in Java like grub-bios-setup does)
 *   LBA 1..33        primary GPT (sfdisk)
 *   p1  1 MiB        BIOS boot partition: GRUB i386-pc core.img (blocklist patched in Java)
 *   p2  256 MiB      EFI System Partition, FAT32: /EFI/BOOT/BOOTX64.EFI, /boot/grub/grub.cfg,
 *                    /vmlinuz, /initrd.img  (GRUB only ever reads FAT, never the root ext4)
 *   p3  rest         ext4 root, label kiln-root, PARTUUID derived from name:version, populated by mkfs.ext4 -d;
 *                    physically last so growpart/systemd-repart can grow it on a bigger volume
 *   last 1 MiB       backup GPT
 * </pre>
 *
 * The disk size is rounded up to a whole GiB (EBS volume granularity) so that the backup GPT sits
 * at the real end of an AMI root volume of the same size; the extra space goes to the root
 * filesystem. The file is sparse: zero blocks are never written.
 *
 * <p>Both GRUB images carry every module they need, so the ESP holds no module directories. BIOS
 * GRUB finds its config via prefix {@code (,gpt2)/boot/grub} (drive = the BIOS boot drive); EFI
 * GRUB via {@code /boot/grub} on the device it was loaded from.
 */
public final class DiskImageWriter {

    /**
     * @param idSeed what GUIDs, UUIDs and the FAT volume id are derived from (name:version), so
     *     that a rebuild gets the same ones
     * @param sourceDateEpoch every time stamp the disk gets (superblocks, directories, FAT entries)
     */
    public record Request(
            Path rootfsDir,
            Path kernel,
            Path initrd,
            String kernelCmdline,
            String title,
            Path output,
            String idSeed,
            long sourceDateEpoch) {
        public Request {
            Objects.requireNonNull(rootfsDir, "rootfsDir");
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(initrd, "initrd");
            Objects.requireNonNull(title, "title");
            Objects.requireNonNull(output, "output");
            Objects.requireNonNull(idSeed, "idSeed");
            kernelCmdline = kernelCmdline == null ? "" : kernelCmdline;
        }
    }

    /**
     * @param rootPartUuid GPT PARTUUID of the root partition (lower case), as used in {@code
     *     root=PARTUUID=}
     * @param rootFsUuid ext4 filesystem UUID of the root filesystem
     * @param diskGuid GPT disk GUID
     * @param sizeBytes apparent size of the disk image (a whole number of GiB)
     */
    public record Result(
            Path disk,
            long sizeBytes,
            String rootPartUuid,
            String rootFsUuid,
            String diskGuid,
            long rootPartitionOffset,
            long rootPartitionSize) {}

    private DiskImageWriter() {}

    /**
     * Builds the disk image. The output is replaced atomically only once it is complete; all
     * intermediate files live in a temporary directory next to it that is always removed.
     */
    public static Result write(Request r, Progress.Step step) throws IOException {
        Objects.requireNonNull(r, "request");
        Progress.Step s = step != null ? step : Progress.SILENT.step("disk image");
        try {
            validate(r);
        } catch (IOException | RuntimeException e) {
            s.failed();
            throw e;
        }
        Path output = r.output().toAbsolutePath().normalize();
        Path outDir = output.getParent();
        Files.createDirectories(outDir);
        Path tmp = Files.createTempDirectory(outDir, "." + output.getFileName() + ".tmp-");
        Thread cleanupHook = new Thread(() -> deleteQuietly(tmp), "kiln-disk-image-cleanup");
        boolean hooked = false;
        try {
            Runtime.getRuntime().addShutdownHook(cleanupHook);
            hooked = true;
        } catch (IllegalStateException shuttingDown) {
            deleteQuietly(tmp);
            throw new InterruptedIOException("JVM is shutting down; not building " + output);
        }
        try {
            Result result = build(r, s, tmp, output);
            s.fraction(1.0);
            s.detail("wrote " + output.getFileName() + " (" + (result.sizeBytes() / MIB) + " MiB, sparse)");
            return result;
        } catch (IOException | RuntimeException | Error e) {
            s.failed();
            throw e;
        } finally {
            deleteQuietly(tmp);
            if (hooked) {
                try {
                    Runtime.getRuntime().removeShutdownHook(cleanupHook);
                } catch (IllegalStateException shuttingDown) {
                    // the hook runs (or ran) anyway
                }
            }
        }
    }

    private static Result build(Request r, Progress.Step s, Path tmp, Path output) throws IOException {
        // Derived, not random, and every time stamp is the epoch: a rebuild gives the same bytes.
        DerivedIds ids = new DerivedIds(r.idSeed());
        String rootPartUuid = ids.uuid("gpt-root").toString();
        String rootFsUuid = ids.uuid("ext4-root").toString();
        String diskGuid = ids.uuid("gpt-disk").toString();
        String espVolumeId = ids.fatVolumeId("esp");

        // 1. size the root filesystem from its content, then round the disk to whole GiB.
        RootfsUsage usage = stage(s, "size root filesystem", 0.00, () -> RootfsUsage.measure(r.rootfsDir()));
        long diskBytes = GptLayout.diskBytes(usage.recommendedFsBytes());
        long rootBytes = GptLayout.rootBytes(diskBytes);

        // 2. root filesystem image
        Path rootImg = tmp.resolve("root.ext4");
        stage(s, "mkfs.ext4 (populate root filesystem)", 0.03, () -> {
            RootFilesystem.make(
                    rootImg,
                    rootBytes,
                    usage,
                    r.rootfsDir(),
                    rootFsUuid,
                    ids.uuid("ext4-hash-seed"),
                    r.sourceDateEpoch(),
                    tmp,
                    s::detail);
            return null;
        });

        // 3. GRUB images + config
        Path coreImg = tmp.resolve("core.img");
        Path bootx64 = tmp.resolve("BOOTX64.EFI");
        Path grubCfg = tmp.resolve("grub.cfg");
        stage(s, "grub-mkimage", 0.55, () -> {
            GrubImages.make(coreImg, bootx64, s::detail);
            Files.writeString(
                    grubCfg, GrubConfig.grubConfig(r.title(), rootPartUuid, r.kernelCmdline()), StandardCharsets.UTF_8);
            return null;
        });

        // 4. ESP
        Path espImg = tmp.resolve("esp.fat");
        stage(s, "build EFI system partition (mkfs.fat/mtools)", 0.58, () -> {
            EspImage.make(
                    espImg, r.kernel(), r.initrd(), bootx64, grubCfg, espVolumeId, r.sourceDateEpoch(), s::detail);
            Files.delete(bootx64);
            return null;
        });

        // 5. partition table
        Path disk = tmp.resolve("disk.raw");
        stage(s, "partition disk (sfdisk)", 0.60, () -> {
            SparseFiles.createSparse(disk, diskBytes);
            GptLayout.partition(
                    disk,
                    tmp.resolve("sfdisk.script"),
                    diskGuid,
                    ids.uuid("gpt-bios-boot").toString(),
                    ids.uuid("gpt-esp").toString(),
                    rootPartUuid,
                    rootBytes / SECTOR,
                    s::detail);
            return null;
        });

        // 6. bootloader for BIOS: patch boot.img into the MBR, core.img into the BIOS boot
        // partition
        stage(s, "install GRUB for BIOS (MBR + BIOS boot partition)", 0.62, () -> {
            GrubBootSector.install(disk, coreImg, GrubImages.bootImg());
            Files.delete(coreImg);
            return null;
        });

        // 7. copy partition images into place (sparse), then publish atomically
        stage(s, "assemble disk image", 0.64, () -> {
            long espSize = Files.size(espImg);
            long total = espSize + rootBytes;
            try (FileChannel out = FileChannel.open(disk, StandardOpenOption.WRITE)) {
                SparseFiles.copySparse(espImg, out, ESP_LBA * SECTOR, done -> s.fraction(0.64 + 0.35 * done / total));
                Files.delete(espImg);
                SparseFiles.copySparse(
                        rootImg, out, ROOT_LBA * SECTOR, done -> s.fraction(0.64 + 0.35 * (espSize + done) / total));
                Files.delete(rootImg);
                if (out.size() != diskBytes) {
                    throw new IOException("disk image has size " + out.size() + ", expected " + diskBytes);
                }
                out.force(true);
            }
            try {
                Files.move(disk, output, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(disk, output, StandardCopyOption.REPLACE_EXISTING);
            }
            return null;
        });
        return new Result(output, diskBytes, rootPartUuid, rootFsUuid, diskGuid, ROOT_LBA * SECTOR, rootBytes);
    }

    // ---- steps & validation -------------------------------------------------------------------

    @FunctionalInterface
    private interface IoAction<T> {
        T run() throws IOException;
    }

    /** Runs one named stage; any failure is rethrown with the stage name in front. */
    private static <T> T stage(Progress.Step s, String name, double fraction, IoAction<T> action) throws IOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("disk image: interrupted before '" + name + "'");
        }
        s.detail(name);
        s.fraction(fraction);
        try {
            return action.run();
        } catch (InterruptedIOException e) {
            InterruptedIOException wrapped =
                    new InterruptedIOException("disk image: '" + name + "' interrupted: " + e.getMessage());
            wrapped.initCause(e);
            throw wrapped;
        } catch (java.nio.channels.ClosedByInterruptException e) {
            InterruptedIOException wrapped = new InterruptedIOException("disk image: '" + name + "' interrupted");
            wrapped.initCause(e);
            throw wrapped;
        } catch (IOException | UncheckedIOException e) {
            throw new IOException("disk image: step '" + name + "' failed: " + e.getMessage(), e);
        }
    }

    private static void validate(Request r) throws IOException {
        if (!Files.isDirectory(r.rootfsDir())) {
            throw new IOException("disk image: rootfs directory " + r.rootfsDir() + " does not exist");
        }
        requireFile(r.kernel(), "kernel");
        requireFile(r.initrd(), "initrd");
        GrubConfig.checkPrintable("title", r.title());
        if (r.title().isBlank()) {
            throw new IllegalArgumentException("disk image: title must not be blank");
        }
        GrubConfig.cmdlineTokens(r.kernelCmdline()); // throws on unsupported characters
    }

    static void requireFile(Path p, String what) throws IOException {
        if (!Files.isRegularFile(p)) {
            throw new IOException("disk image: " + what + " not found at " + p);
        }
    }

    private static void deleteQuietly(Path dir) {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // best effort
        }
    }
}
