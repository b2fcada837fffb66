package dev.kiln.builder.artifact;

import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Why: the disk's fixed GPT geometry and partition table live apart from how the partitions are
 * filled.
 */
final class GptLayout {

    static final int SECTOR = 512;
    static final long MIB = 1024L * 1024;
    static final long GIB = 1024L * MIB;
    static final long BIOS_BOOT_LBA = 2048; // 1 MiB
    static final long BIOS_BOOT_SECTORS = MIB / SECTOR; // 1 MiB
    static final long ESP_LBA = BIOS_BOOT_LBA + BIOS_BOOT_SECTORS; // 2 MiB
    static final long ESP_BYTES = 256 * MIB;
    static final long ROOT_LBA = ESP_LBA + ESP_BYTES / SECTOR; // 258 MiB
    static final long TAIL_BYTES = MIB; // backup GPT (33 sectors) + alignment
    static final String ROOT_LABEL = "kiln-root";
    static final String ESP_LABEL = "KILN-ESP";

    static final String TYPE_BIOS_BOOT = "21686148-6449-6E6F-744E-656564454649";
    static final String TYPE_ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";

    /** "Linux root (x86-64)" from the Discoverable Partitions Specification. */
    static final String TYPE_ROOT_X86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";

    private GptLayout() {}

    /**
     * The disk size for a root filesystem of at least {@code minRootBytes}: rounded up to whole
     * GiB.
     */
    static long diskBytes(long minRootBytes) {
        return SparseFiles.roundUp(ROOT_LBA * SECTOR + minRootBytes + TAIL_BYTES, GIB);
    }

    /** What is left for the root partition on a disk of {@code diskBytes}. */
    static long rootBytes(long diskBytes) {
        return diskBytes - ROOT_LBA * SECTOR - TAIL_BYTES;
    }

    /**
     * Writes the partition table into the (sparse, fresh) {@code disk} with sfdisk, then checks it.
     */
    static void partition(
            Path disk,
            Path script,
            String diskGuid,
            String biosBootUuid,
            String espUuid,
            String rootPartUuid,
            long rootSectors,
            Consumer<String> detail)
            throws IOException {
        Files.writeString(
                script,
                sfdiskScript(diskGuid, biosBootUuid, espUuid, rootPartUuid, rootSectors),
                StandardCharsets.UTF_8);
        Exec.of(
                        "sh",
                        "-c",
                        "exec sfdisk --quiet --no-reread --no-tell-kernel \"$1\" < \"$2\"",
                        "sfdisk",
                        disk.toString(),
                        script.toString())
                .onLine(detail)
                .run();
        verifyPartitionTable(Exec.of("sfdisk", "--dump", disk.toString()).run(), rootPartUuid, rootSectors);
    }

    static String sfdiskScript(
            String diskGuid, String biosBootUuid, String espUuid, String rootPartUuid, long rootSectors) {
        return "label: gpt\n"
                + "label-id: "
                + diskGuid.toUpperCase(Locale.ROOT)
                + "\n"
                + "unit: sectors\n"
                + "first-lba: 2048\n"
                + "sector-size: 512\n"
                + "\n"
                + "start="
                + BIOS_BOOT_LBA
                + ", size="
                + BIOS_BOOT_SECTORS
                + ", type="
                + TYPE_BIOS_BOOT
                + ", uuid="
                + biosBootUuid.toUpperCase(Locale.ROOT)
                + ", name=\"bios-boot\"\n"
                + "start="
                + ESP_LBA
                + ", size="
                + ESP_BYTES / SECTOR
                + ", type="
                + TYPE_ESP
                + ", uuid="
                + espUuid.toUpperCase(Locale.ROOT)
                + ", name=\"esp\"\n"
                + "start="
                + ROOT_LBA
                + ", size="
                + rootSectors
                + ", type="
                + TYPE_ROOT_X86_64
                + ", uuid="
                + rootPartUuid.toUpperCase(Locale.ROOT)
                + ", name=\""
                + ROOT_LABEL
                + "\"\n";
    }

    private static final Pattern DUMP_LINE = Pattern.compile(
            "^\\S+?(\\d+)\\s*:\\s*start=\\s*(\\d+),\\s*size=\\s*(\\d+),\\s*type=([0-9A-Fa-f-]+),\\s*uuid=([0-9A-Fa-f-]+)",
            Pattern.MULTILINE);

    /**
     * Checks that sfdisk wrote exactly the layout we asked for (it may silently align otherwise).
     */
    private static void verifyPartitionTable(String dump, String rootPartUuid, long rootSectors) throws IOException {
        long[][] expected = {
            {BIOS_BOOT_LBA, BIOS_BOOT_SECTORS},
            {ESP_LBA, ESP_BYTES / SECTOR},
            {ROOT_LBA, rootSectors}
        };
        Matcher m = DUMP_LINE.matcher(dump);
        int n = 0;
        while (m.find()) {
            int part = Integer.parseInt(m.group(1));
            if (part < 1
                    || part > 3
                    || Long.parseLong(m.group(2)) != expected[part - 1][0]
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
}
