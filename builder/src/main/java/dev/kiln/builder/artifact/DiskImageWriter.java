package dev.kiln.builder.artifact;

import dev.kiln.core.exec.Exec;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.progress.Progress;
import dev.kiln.builder.repro.Clamp;
import dev.kiln.builder.repro.DerivedIds;
import dev.kiln.builder.repro.Ext4Times;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.function.DoubleConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Turns a staged root filesystem directory into {@code disk.raw}: a GPT disk that boots under
 * legacy BIOS (SeaBIOS, EC2 legacy) and UEFI (OVMF, EC2 UEFI) alike.
 *
 * <p>Everything is built from plain files, without loop devices, mounts or chroot, so it works in
 * unprivileged containers (as long as the staged rootfs itself carries the right ownership):
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
 * The disk size is rounded up to a whole GiB (EBS volume granularity) so that the backup GPT sits
 * at the real end of an AMI root volume of the same size; the extra space goes to the root
 * filesystem. The file is sparse: zero blocks are never written.
 *
 * <p>Both GRUB images carry every module they need, so the ESP holds no module directories.
 * BIOS GRUB finds its config via prefix {@code (,gpt2)/boot/grub} (drive = the BIOS boot drive);
 * EFI GRUB via {@code /boot/grub} on the device it was loaded from.
 */
public final class DiskImageWriter {

    /**
     * @param idSeed          what GUIDs, UUIDs and the FAT volume id are derived from (name:version),
     *                        so that a rebuild gets the same ones
     * @param sourceDateEpoch every time stamp the disk gets (superblocks, directories, FAT entries)
     */
    public record Request(Path rootfsDir, Path kernel, Path initrd, String kernelCmdline, String title,
                          Path output, String idSeed, long sourceDateEpoch) {
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
     * @param rootPartUuid GPT PARTUUID of the root partition (lower case), as used in {@code root=PARTUUID=}
     * @param rootFsUuid   ext4 filesystem UUID of the root filesystem
     * @param diskGuid     GPT disk GUID
     * @param sizeBytes    apparent size of the disk image (a whole number of GiB)
     */
    public record Result(Path disk, long sizeBytes, String rootPartUuid, String rootFsUuid, String diskGuid,
                         long rootPartitionOffset, long rootPartitionSize) { }

    // ---- layout -------------------------------------------------------------------------------
    static final int SECTOR = 512;
    static final long MIB = 1024L * 1024;
    static final long GIB = 1024L * MIB;
    static final long BIOS_BOOT_LBA = 2048;                          // 1 MiB
    static final long BIOS_BOOT_SECTORS = MIB / SECTOR;              // 1 MiB
    static final long ESP_LBA = BIOS_BOOT_LBA + BIOS_BOOT_SECTORS;   // 2 MiB
    static final long ESP_BYTES = 256 * MIB;
    static final long ROOT_LBA = ESP_LBA + ESP_BYTES / SECTOR;       // 258 MiB
    static final long TAIL_BYTES = MIB;                              // backup GPT (33 sectors) + alignment
    static final String ROOT_LABEL = "kiln-root";
    static final String ESP_LABEL = "KILN-ESP";

    static final String TYPE_BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649";
    static final String TYPE_ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
    /** "Linux root (x86-64)" from the Discoverable Partitions Specification. */
    static final String TYPE_ROOT_X86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";

    // ---- GRUB ---------------------------------------------------------------------------------
    static final Path GRUB_PC_DIR = Path.of("/usr/lib/grub/i386-pc");
    static final Path GRUB_EFI_DIR = Path.of("/usr/lib/grub/x86_64-efi");
    private static final List<String> GRUB_COMMON_MODULES = List.of(
            "part_gpt", "part_msdos", "fat", "normal", "linux", "echo", "serial", "terminal", "configfile",
            "search", "search_fs_uuid", "search_fs_file", "search_label", "test", "ls", "cat", "sleep",
            "halt", "reboot", "gzio");
    private static final List<String> GRUB_PC_MODULES = List.of("biosdisk");
    private static final List<String> GRUB_EFI_MODULES = List.of("efi_gop", "all_video");
    static final String GRUB_PC_PREFIX = "(,gpt2)/boot/grub";
    static final String GRUB_EFI_PREFIX = "/boot/grub";

    // boot.img offsets (grub include/grub/i386/pc/boot.h)
    static final int BPB_START = 0x03;
    static final int BPB_END = 0x5a;
    static final int KERNEL_SECTOR = 0x5c;
    static final int BOOT_DRIVE = 0x64;
    static final int DRIVE_CHECK = 0x66;
    static final int WINDOWS_NT_MAGIC = 0x1b8;
    static final int MBR_END = 0x200;
    // diskboot.img blocklist: entries of {u64 start, u16 len, u16 segment}, growing down from the
    // end of core.img's first sector.
    static final int BLOCKLIST_ENTRY = 12;
    static final int FIRST_BLOCKLIST = SECTOR - BLOCKLIST_ENTRY;
    /** GRUB_BOOT_I386_PC_KERNEL_SEG (0x800) + one sector (0x20): where sector 2 of core.img is loaded. */
    static final int CORE_SEGMENT = 0x820;
    /** grub-bios-setup's limit: (0x78000 - GRUB_KERNEL_I386_PC_LINK_ADDR 0x9000) / 512. */
    static final int MAX_CORE_SECTORS = (0x78000 - 0x9000) / SECTOR;

    private static final int BLOCK = 4096;

    private DiskImageWriter() { }

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
        String epoch = Long.toString(r.sourceDateEpoch());

        // 1. size the root filesystem from its content, then round the disk to whole GiB.
        RootfsUsage usage = stage(s, "size root filesystem", 0.00, () -> RootfsUsage.measure(r.rootfsDir()));
        long minRootBytes = usage.recommendedFsBytes();
        long diskBytes = roundUp(ROOT_LBA * SECTOR + minRootBytes + TAIL_BYTES, GIB);
        long rootBytes = diskBytes - ROOT_LBA * SECTOR - TAIL_BYTES;
        long inodes = Math.max(rootBytes / 16384, usage.inodes() + usage.inodes() / 2 + 16384);

        // 2. root filesystem image
        Path rootImg = tmp.resolve("root.ext4");
        stage(s, "mkfs.ext4 (populate root filesystem)", 0.03, () -> {
            createSparse(rootImg, rootBytes);
            List<String> cmd = new ArrayList<>(List.of("mkfs.ext4", "-F", "-t", "ext4", "-T", "default",
                    "-b", Integer.toString(BLOCK), "-L", ROOT_LABEL, "-U", rootFsUuid,
                    "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard,hash_seed=" + ids.uuid("ext4-hash-seed")));
            if (inodes > rootBytes / 16384) {
                cmd.addAll(List.of("-N", Long.toString(inodes)));
            }
            cmd.addAll(List.of("-d", r.rootfsDir().toAbsolutePath().toString(), rootImg.toString()));
            Exec.of(cmd).env("E2FSPROGS_FAKE_TIME", epoch).env("SOURCE_DATE_EPOCH", epoch).onLine(s::detail).run();
            Ext4Times.set(rootImg, r.rootfsDir(), r.sourceDateEpoch(), tmp, s::detail);
            return null;
        });

        // 3. GRUB images + config
        Path coreImg = tmp.resolve("core.img");
        Path bootx64 = tmp.resolve("BOOTX64.EFI");
        Path grubCfg = tmp.resolve("grub.cfg");
        stage(s, "grub-mkimage", 0.55, () -> {
            requireFile(GRUB_PC_DIR.resolve("boot.img"), "GRUB i386-pc boot.img (Debian package grub-pc-bin)");
            requireFile(GRUB_PC_DIR.resolve("moddep.lst"), "GRUB i386-pc modules (Debian package grub-pc-bin)");
            requireFile(GRUB_EFI_DIR.resolve("moddep.lst"),
                    "GRUB x86_64-efi modules (Debian package grub-efi-amd64-bin)");
            List<String> pc = new ArrayList<>(List.of("grub-mkimage", "-O", "i386-pc", "-d", GRUB_PC_DIR.toString(),
                    "-p", GRUB_PC_PREFIX, "-o", coreImg.toString()));
            pc.addAll(GRUB_PC_MODULES);
            pc.addAll(GRUB_COMMON_MODULES);
            Exec.of(pc).onLine(s::detail).run();
            List<String> efi = new ArrayList<>(List.of("grub-mkimage", "-O", "x86_64-efi", "-d",
                    GRUB_EFI_DIR.toString(), "-p", GRUB_EFI_PREFIX, "-o", bootx64.toString()));
            efi.addAll(GRUB_EFI_MODULES);
            efi.addAll(GRUB_COMMON_MODULES);
            Exec.of(efi).onLine(s::detail).run();
            Files.writeString(grubCfg, grubConfig(r.title(), rootPartUuid, r.kernelCmdline()), StandardCharsets.UTF_8);
            return null;
        });

        // 4. ESP
        Path espImg = tmp.resolve("esp.fat");
        stage(s, "build EFI system partition (mkfs.fat/mtools)", 0.58, () -> {
            long payload = Files.size(r.kernel()) + Files.size(r.initrd()) + Files.size(bootx64) + MIB;
            if (payload > ESP_BYTES * 8 / 10) {
                throw new IOException("kernel + initrd + GRUB (" + payload / MIB + " MiB) do not fit the "
                        + ESP_BYTES / MIB + " MiB EFI system partition with room to spare");
            }
            createSparse(espImg, ESP_BYTES);
            // --invariant: no creation time from the clock (the volume id is given with -i).
            Exec.of("mkfs.fat", "--invariant", "-F", "32", "-n", ESP_LABEL, "-i", espVolumeId, "-h", Long.toString(ESP_LBA),
                    espImg.toString()).onLine(s::detail).run();
            Clamp.set(bootx64, r.sourceDateEpoch());
            Clamp.set(grubCfg, r.sourceDateEpoch());
            mtools("mmd", espImg, "::/EFI", "::/EFI/BOOT", "::/boot", "::/boot/grub").env("SOURCE_DATE_EPOCH", epoch).run();
            mtools("mcopy", espImg, bootx64.toString(), "::/EFI/BOOT/BOOTX64.EFI").env("SOURCE_DATE_EPOCH", epoch).run();
            mtools("mcopy", espImg, grubCfg.toString(), "::/boot/grub/grub.cfg").env("SOURCE_DATE_EPOCH", epoch).run();
            mtools("mcopy", espImg, r.kernel().toAbsolutePath().toString(), "::/vmlinuz").env("SOURCE_DATE_EPOCH", epoch).run();
            mtools("mcopy", espImg, r.initrd().toAbsolutePath().toString(), "::/initrd.img").env("SOURCE_DATE_EPOCH", epoch).run();
            Files.delete(bootx64);
            return null;
        });

        // 5. partition table
        Path disk = tmp.resolve("disk.raw");
        stage(s, "partition disk (sfdisk)", 0.60, () -> {
            createSparse(disk, diskBytes);
            Path script = tmp.resolve("sfdisk.script");
            Files.writeString(script, sfdiskScript(diskGuid, ids.uuid("gpt-bios-boot").toString(), ids.uuid("gpt-esp").toString(),
                    rootPartUuid, rootBytes / SECTOR), StandardCharsets.UTF_8);
            Exec.of("sh", "-c", "exec sfdisk --quiet --no-reread --no-tell-kernel \"$1\" < \"$2\"", "sfdisk",
                    disk.toString(), script.toString()).onLine(s::detail).run();
            verifyPartitionTable(Exec.of("sfdisk", "--dump", disk.toString()).run(), rootPartUuid,
                    rootBytes / SECTOR);
            return null;
        });

        // 6. bootloader for BIOS: patch boot.img into the MBR, core.img into the BIOS boot partition
        stage(s, "install GRUB for BIOS (MBR + BIOS boot partition)", 0.62, () -> {
            byte[] core = patchCoreImage(Files.readAllBytes(coreImg), BIOS_BOOT_LBA);
            if (core.length > BIOS_BOOT_SECTORS * SECTOR) {
                throw new IOException("core.img (" + core.length + " bytes) does not fit the BIOS boot partition");
            }
            byte[] bootImg = Files.readAllBytes(GRUB_PC_DIR.resolve("boot.img"));
            try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                ByteBuffer mbr = ByteBuffer.allocate(SECTOR);
                readFully(ch, mbr, 0);
                byte[] patched = patchMbr(bootImg, mbr.array(), BIOS_BOOT_LBA);
                writeFully(ch, ByteBuffer.wrap(patched), 0);
                writeFully(ch, ByteBuffer.wrap(core), BIOS_BOOT_LBA * SECTOR);
            }
            Files.delete(coreImg);
            return null;
        });

        // 7. copy partition images into place (sparse), then publish atomically
        stage(s, "assemble disk image", 0.64, () -> {
            long espSize = Files.size(espImg);
            long total = espSize + rootBytes;
            try (FileChannel out = FileChannel.open(disk, StandardOpenOption.WRITE)) {
                copySparse(espImg, out, ESP_LBA * SECTOR,
                        done -> s.fraction(0.64 + 0.35 * done / total));
                Files.delete(espImg);
                copySparse(rootImg, out, ROOT_LBA * SECTOR,
                        done -> s.fraction(0.64 + 0.35 * (espSize + done) / total));
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
    private static <T> T stage(Progress.Step s, String name, double fraction, IoAction<T> action)
            throws IOException {
        if (Thread.currentThread().isInterrupted()) {
            throw new InterruptedIOException("disk image: interrupted before '" + name + "'");
        }
        s.detail(name);
        s.fraction(fraction);
        try {
            return action.run();
        } catch (InterruptedIOException e) {
            InterruptedIOException wrapped = new InterruptedIOException("disk image: '" + name + "' interrupted: "
                    + e.getMessage());
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
        checkPrintable("title", r.title());
        if (r.title().isBlank()) {
            throw new IllegalArgumentException("disk image: title must not be blank");
        }
        cmdlineTokens(r.kernelCmdline()); // throws on unsupported characters
    }

    private static void requireFile(Path p, String what) throws IOException {
        if (!Files.isRegularFile(p)) {
            throw new IOException("disk image: " + what + " not found at " + p);
        }
    }

    private static void checkPrintable(String what, String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                throw new IllegalArgumentException("disk image: " + what + " contains a control character: "
                        + value.replace("\n", "\\n"));
            }
        }
    }

    // ---- grub.cfg & sfdisk script -------------------------------------------------------------

    static String grubConfig(String title, String rootPartUuid, String extraCmdline) {
        StringBuilder linux = new StringBuilder("linux /vmlinuz root=PARTUUID=").append(rootPartUuid).append(" rw");
        for (String token : cmdlineTokens(extraCmdline)) {
            linux.append(' ').append(grubWord(token));
        }
        return "# Generated by kiln. GRUB reads only this FAT partition: kernel and initrd live here.\n"
                + "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\n"
                + "terminal_input serial console\n"
                + "terminal_output serial console\n"
                + "set default=0\n"
                + "set timeout_style=menu\n"
                + "set timeout=1\n"
                + "\n"
                + "menuentry " + grubQuote(title) + " --id kiln {\n"
                + "\t" + linux + "\n"
                + "\tinitrd /initrd.img\n"
                + "}\n";
    }

    /**
     * Splits the extra kernel command line on whitespace. Quotes and backslashes are refused:
     * GRUB 2.06 re-escapes them when it builds the kernel command line (the kernel would see
     * {@code \"}), so they cannot round-trip reliably.
     */
    static List<String> cmdlineTokens(String cmdline) {
        if (cmdline == null || cmdline.isBlank()) {
            return List.of();
        }
        checkPrintable("kernel command line", cmdline);
        List<String> tokens = new ArrayList<>();
        for (String t : cmdline.trim().split("\\s+")) {
            if (t.indexOf('"') >= 0 || t.indexOf('\'') >= 0 || t.indexOf('\\') >= 0) {
                throw new IllegalArgumentException("disk image: kernel command line argument '" + t
                        + "' contains a quote or backslash, which GRUB cannot pass through unchanged");
            }
            if (t.startsWith("root=")) {
                throw new IllegalArgumentException("disk image: kernel command line must not set root=; "
                        + "the writer sets root=PARTUUID=... itself");
            }
            tokens.add(t);
        }
        return tokens;
    }

    private static final Pattern GRUB_SAFE_WORD = Pattern.compile("[A-Za-z0-9_.,:=/+@%-]+");

    private static String grubWord(String token) {
        return GRUB_SAFE_WORD.matcher(token).matches() ? token : grubQuote(token);
    }

    /** GRUB script single quoting: nothing is special inside '...', a quote is written as '\''. */
    static String grubQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    static String sfdiskScript(String diskGuid, String biosBootUuid, String espUuid, String rootPartUuid, long rootSectors) {
        return "label: gpt\n"
                + "label-id: " + diskGuid.toUpperCase(Locale.ROOT) + "\n"
                + "unit: sectors\n"
                + "first-lba: 2048\n"
                + "sector-size: 512\n"
                + "\n"
                + "start=" + BIOS_BOOT_LBA + ", size=" + BIOS_BOOT_SECTORS + ", type=" + TYPE_BIOS_BOOT
                + ", uuid=" + biosBootUuid.toUpperCase(Locale.ROOT) + ", name=\"bios-boot\"\n"
                + "start=" + ESP_LBA + ", size=" + ESP_BYTES / SECTOR + ", type=" + TYPE_ESP
                + ", uuid=" + espUuid.toUpperCase(Locale.ROOT) + ", name=\"esp\"\n"
                + "start=" + ROOT_LBA + ", size=" + rootSectors + ", type=" + TYPE_ROOT_X86_64
                + ", uuid=" + rootPartUuid.toUpperCase(Locale.ROOT) + ", name=\"" + ROOT_LABEL + "\"\n";
    }

    private static final Pattern DUMP_LINE = Pattern.compile(
            "^\\S+?(\\d+)\\s*:\\s*start=\\s*(\\d+),\\s*size=\\s*(\\d+),\\s*type=([0-9A-Fa-f-]+),\\s*uuid=([0-9A-Fa-f-]+)",
            Pattern.MULTILINE);

    /** Checks that sfdisk wrote exactly the layout we asked for (it may silently align otherwise). */
    private static void verifyPartitionTable(String dump, String rootPartUuid, long rootSectors) throws IOException {
        long[][] expected = {
            {BIOS_BOOT_LBA, BIOS_BOOT_SECTORS}, {ESP_LBA, ESP_BYTES / SECTOR}, {ROOT_LBA, rootSectors}};
        Matcher m = DUMP_LINE.matcher(dump);
        int n = 0;
        while (m.find()) {
            int part = Integer.parseInt(m.group(1));
            if (part < 1 || part > 3 || Long.parseLong(m.group(2)) != expected[part - 1][0]
                    || Long.parseLong(m.group(3)) != expected[part - 1][1]) {
                throw new IOException("sfdisk wrote an unexpected partition table:\n" + dump);
            }
            if (part == 3 && !m.group(5).equalsIgnoreCase(rootPartUuid)) {
                throw new IOException("sfdisk wrote root PARTUUID " + m.group(5) + ", expected " + rootPartUuid);
            }
            n++;
        }
        if (n != 3) {
            throw new IOException("expected 3 partitions, sfdisk --dump shows " + n + ":\n" + dump);
        }
    }

    private static Exec mtools(String tool, Path image, String... args) {
        List<String> cmd = new ArrayList<>(List.of(tool, "-i", image.toString()));
        if (tool.equals("mcopy")) {
            cmd.add("-m"); // keep source modification times
        }
        cmd.addAll(Arrays.asList(args));
        // FAT time stamps are local time: UTC, so the build host's zone does not end up in the bytes.
        return Exec.of(cmd).env("MTOOLS_SKIP_CHECK", "1").env("MTOOLSRC", "/dev/null").env("TZ", "UTC");
    }

    // ---- boot sector patching (what grub-bios-setup does for a GPT disk with a BIOS boot partition)

    /**
     * Returns GRUB's boot.img adapted to this disk: BPB and partition table area
     * (0x1B8..0x1FF: disk signature, protective MBR entry, 0x55AA) are kept from the sector sfdisk
     * wrote, the "buggy BIOS" drive check jump becomes two NOPs, the boot drive byte is 0xFF
     * ("use the drive the BIOS booted from") and the kernel sector points at core.img.
     */
    static byte[] patchMbr(byte[] bootImg, byte[] currentMbr, long coreLba) {
        if (bootImg.length != SECTOR || currentMbr.length != SECTOR) {
            throw new IllegalArgumentException("boot.img and MBR must be exactly 512 bytes (got "
                    + bootImg.length + " and " + currentMbr.length + ")");
        }
        if ((bootImg[0] & 0xff) != 0xeb) {
            throw new IllegalArgumentException("boot.img does not start with a short jump; not a GRUB i386-pc boot.img");
        }
        int check = bootImg[DRIVE_CHECK] & 0xff;
        if (check != 0xeb && check != 0x90) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "unexpected byte 0x%02x at boot.img drive check offset 0x66; GRUB version mismatch?", check));
        }
        if ((currentMbr[0x1fe] & 0xff) != 0x55 || (currentMbr[0x1ff] & 0xff) != 0xaa) {
            throw new IllegalArgumentException("existing MBR has no 0x55AA signature; partition table missing?");
        }
        byte[] out = bootImg.clone();
        System.arraycopy(currentMbr, BPB_START, out, BPB_START, BPB_END - BPB_START);
        out[DRIVE_CHECK] = (byte) 0x90;
        out[DRIVE_CHECK + 1] = (byte) 0x90;
        System.arraycopy(currentMbr, WINDOWS_NT_MAGIC, out, WINDOWS_NT_MAGIC, MBR_END - WINDOWS_NT_MAGIC);
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(KERNEL_SECTOR, coreLba);
        out[BOOT_DRIVE] = (byte) 0xff;
        return out;
    }

    /**
     * Returns core.img padded to whole sectors, with the blocklist at the end of its first sector
     * (diskboot.img) describing where the remaining sectors are: one entry
     * {start = coreLba + 1, len = sectors - 1, segment = 0x820} followed by a zero terminator.
     */
    static byte[] patchCoreImage(byte[] coreImg, long coreLba) {
        int sectors = (coreImg.length + SECTOR - 1) / SECTOR;
        if (sectors < 2) {
            throw new IllegalArgumentException("core.img is too small (" + coreImg.length + " bytes)");
        }
        if (sectors > MAX_CORE_SECTORS) {
            throw new IllegalArgumentException("core.img has " + sectors + " sectors; GRUB's BIOS loader allows at most "
                    + MAX_CORE_SECTORS + " (embed fewer modules)");
        }
        byte[] out = Arrays.copyOf(coreImg, sectors * SECTOR);
        ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        // Clear the existing list (grub-mkimage pre-fills the first entry) down to its terminator.
        int pos = FIRST_BLOCKLIST;
        while ((b.getShort(pos + 8) & 0xffff) != 0) {
            Arrays.fill(out, pos, pos + BLOCKLIST_ENTRY, (byte) 0);
            pos -= BLOCKLIST_ENTRY;
            if (pos <= 0) {
                throw new IllegalArgumentException("no blocklist terminator in core.img's first sector");
            }
        }
        b.putLong(FIRST_BLOCKLIST, coreLba + 1);
        b.putShort(FIRST_BLOCKLIST + 8, (short) (sectors - 1));
        b.putShort(FIRST_BLOCKLIST + 10, (short) CORE_SEGMENT);
        Arrays.fill(out, FIRST_BLOCKLIST - BLOCKLIST_ENTRY, FIRST_BLOCKLIST, (byte) 0);
        return out;
    }

    // ---- file helpers -------------------------------------------------------------------------

    private static void createSparse(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            if (size > 0) {
                ch.write(ByteBuffer.wrap(new byte[1]), size - 1); // extends with a hole
            }
        }
    }

    private static final byte[] ZERO_BLOCK = new byte[BLOCK];

    /**
     * Copies {@code src} into {@code dst} at {@code offset}, skipping all-zero 4 KiB blocks so that
     * the destination (a fresh, sparse file) keeps its holes. Returns the number of bytes written.
     */
    static long copySparse(Path src, FileChannel dst, long offset, DoubleConsumer progress) throws IOException {
        long written = 0;
        try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ)) {
            long size = in.size();
            byte[] chunk = new byte[4 * (int) MIB];
            ByteBuffer buf = ByteBuffer.wrap(chunk);
            long pos = 0;
            long lastReport = 0;
            while (pos < size) {
                int want = (int) Math.min(chunk.length, size - pos);
                buf.clear().limit(want);
                readFully(in, buf, pos);
                int runStart = -1;
                for (int i = 0; i < want; i += BLOCK) {
                    int end = Math.min(i + BLOCK, want);
                    boolean zero = Arrays.mismatch(chunk, i, end, ZERO_BLOCK, 0, end - i) < 0;
                    if (!zero && runStart < 0) {
                        runStart = i;
                    } else if (zero && runStart >= 0) {
                        written += writeFully(dst, ByteBuffer.wrap(chunk, runStart, i - runStart), offset + pos + runStart);
                        runStart = -1;
                    }
                }
                if (runStart >= 0) {
                    written += writeFully(dst, ByteBuffer.wrap(chunk, runStart, want - runStart), offset + pos + runStart);
                }
                pos += want;
                if (pos - lastReport >= 64 * MIB || pos == size) {
                    progress.accept(pos);
                    lastReport = pos;
                }
            }
        }
        return written;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long p = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, p);
            if (n < 0) {
                throw new IOException("unexpected end of file at offset " + p);
            }
            p += n;
        }
    }

    private static int writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        int total = buf.remaining();
        long p = position;
        while (buf.hasRemaining()) {
            p += ch.write(buf, p);
        }
        return total;
    }

    private static long roundUp(long value, long unit) {
        return (value + unit - 1) / unit * unit;
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

    // ---- root filesystem sizing ---------------------------------------------------------------

    /** What the staged rootfs needs on ext4 with 4 KiB blocks (estimated, errs on the large side). */
    record RootfsUsage(long dataBlocks, long inodes, long dirEntryBytes) {

        static RootfsUsage measure(Path root) throws IOException {
            long[] blocks = {0};
            long[] inodes = {0};
            long[] dirBytes = {0};
            Set<Object> seen = new HashSet<>();
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                    inodes[0]++;
                    blocks[0]++;
                    entry(dir);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    entry(file);
                    Object key = attrs.fileKey();
                    if (key != null && !seen.add(key)) {
                        return FileVisitResult.CONTINUE; // another name for an inode already counted
                    }
                    inodes[0]++;
                    if (attrs.isRegularFile()) {
                        long b = (attrs.size() + BLOCK - 1) / BLOCK;
                        blocks[0] += b + b / 256; // + extent tree/fragmentation allowance
                    } else if (attrs.isSymbolicLink()) {
                        if (Files.readSymbolicLink(file).toString().getBytes(StandardCharsets.UTF_8).length >= 60) {
                            blocks[0]++;
                        }
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                    throw new IOException("cannot read " + file + " while sizing the root filesystem: "
                            + exc.getMessage(), exc);
                }

                private void entry(Path p) {
                    Path name = p.getFileName();
                    int len = name == null ? 1 : name.toString().getBytes(StandardCharsets.UTF_8).length;
                    dirBytes[0] += 8 + ((len + 3) & ~3);
                }
            });
            return new RootfsUsage(blocks[0], inodes[0], dirBytes[0]);
        }

        long contentBytes() {
            return (dataBlocks + (dirEntryBytes * 2 + BLOCK - 1) / BLOCK) * BLOCK;
        }

        /**
         * Content + 10% + inode tables + journal and group metadata, then at least 256 MiB (or
         * 20%) of free space, then 5% on top for root-reserved blocks.
         */
        long recommendedFsBytes() {
            long content = contentBytes();
            long needed = content + content / 10 + inodes * 400 + 128 * MIB;
            long withFree = needed + Math.max(256 * MIB, needed / 5);
            return roundUp(withFree * 100 / 95, MIB);
        }
    }
}
