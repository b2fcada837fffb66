package dev.kiln.builder.artifact;

import static dev.kiln.builder.artifact.GptLayout.BIOS_BOOT_LBA;
import static dev.kiln.builder.artifact.GptLayout.BIOS_BOOT_SECTORS;
import static dev.kiln.builder.artifact.GptLayout.SECTOR;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Locale;

/**
 * Why: byte-level boot sector patching (what grub-bios-setup does for a GPT disk with a BIOS boot
 * partition) is its own, testable concern.
 */
final class GrubBootSector {

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

    /**
     * GRUB_BOOT_I386_PC_KERNEL_SEG (0x800) + one sector (0x20): where sector 2 of core.img is
     * loaded.
     */
    static final int CORE_SEGMENT = 0x820;

    /** grub-bios-setup's limit: (0x78000 - GRUB_KERNEL_I386_PC_LINK_ADDR 0x9000) / 512. */
    static final int MAX_CORE_SECTORS = (0x78000 - 0x9000) / SECTOR;

    private GrubBootSector() {}

    /**
     * Patches boot.img into the MBR of the partitioned {@code disk} and core.img into its BIOS boot
     * partition.
     */
    static void install(Path disk, Path coreImg, Path bootImgFile) throws IOException {
        byte[] core = patchCoreImage(Files.readAllBytes(coreImg), BIOS_BOOT_LBA);
        if (core.length > BIOS_BOOT_SECTORS * SECTOR) {
            throw new IOException("core.img (" + core.length + " bytes) does not fit the BIOS boot partition");
        }
        byte[] bootImg = Files.readAllBytes(bootImgFile);
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer mbr = ByteBuffer.allocate(SECTOR);
            SparseFiles.readFully(ch, mbr, 0);
            byte[] patched = patchMbr(bootImg, mbr.array(), BIOS_BOOT_LBA);
            SparseFiles.writeFully(ch, ByteBuffer.wrap(patched), 0);
            SparseFiles.writeFully(ch, ByteBuffer.wrap(core), BIOS_BOOT_LBA * SECTOR);
        }
    }

    /**
     * Returns GRUB's boot.img adapted to this disk: BPB and partition table area (0x1B8..0x1FF:
     * disk signature, protective MBR entry, 0x55AA) are kept from the sector sfdisk wrote, the
     * "buggy BIOS" drive check jump becomes two NOPs, the boot drive byte is 0xFF ("use the drive
     * the BIOS booted from") and the kernel sector points at core.img.
     */
    static byte[] patchMbr(byte[] bootImg, byte[] currentMbr, long coreLba) {
        if (bootImg.length != SECTOR || currentMbr.length != SECTOR) {
            throw new IllegalArgumentException("boot.img and MBR must be exactly 512 bytes (got "
                    + bootImg.length
                    + " and "
                    + currentMbr.length
                    + ")");
        }
        if ((bootImg[0] & 0xff) != 0xeb) {
            throw new IllegalArgumentException(
                    "boot.img does not start with a short jump; not a GRUB i386-pc boot.img");
        }
        int check = bootImg[DRIVE_CHECK] & 0xff;
        if (check != 0xeb && check != 0x90) {
            throw new IllegalArgumentException(String.format(
                    Locale.ROOT,
                    "unexpected byte 0x%02x at boot.img drive check offset 0x66; GRUB version mismatch?",
                    check));
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
     * (diskboot.img) describing where the remaining sectors are: one entry {start = coreLba + 1,
     * len = sectors - 1, segment = 0x820} followed by a zero terminator.
     */
    static byte[] patchCoreImage(byte[] coreImg, long coreLba) {
        int sectors = (coreImg.length + SECTOR - 1) / SECTOR;
        if (sectors < 2) {
            throw new IllegalArgumentException("core.img is too small (" + coreImg.length + " bytes)");
        }
        if (sectors > MAX_CORE_SECTORS) {
            throw new IllegalArgumentException("core.img has "
                    + sectors
                    + " sectors; GRUB's BIOS loader allows at most "
                    + MAX_CORE_SECTORS
                    + " (embed fewer modules)");
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
}
