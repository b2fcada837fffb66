package dev.kiln.builder.artifact;

import static dev.kiln.builder.artifact.GptLayout.ESP_BYTES;
import static dev.kiln.builder.artifact.GptLayout.ESP_LABEL;
import static dev.kiln.builder.artifact.GptLayout.ESP_LBA;
import static dev.kiln.builder.artifact.GptLayout.MIB;

import dev.kiln.builder.repro.Clamp;
import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Why: the EFI system partition is a FAT image filled with mtools, unprivileged and reproducibly
 * time-stamped.
 */
final class EspImage {

    private EspImage() {}

    /** Writes {@code espImg}: GRUB's EFI image, its grub.cfg, the kernel and the initrd. */
    static void make(
            Path espImg,
            Path kernel,
            Path initrd,
            Path bootx64,
            Path grubCfg,
            String volumeId,
            long sourceDateEpoch,
            Consumer<String> detail)
            throws IOException {
        String epoch = Long.toString(sourceDateEpoch);
        long payload = Files.size(kernel) + Files.size(initrd) + Files.size(bootx64) + MIB;
        if (payload > ESP_BYTES * 8 / 10) {
            throw new IOException("kernel + initrd + GRUB ("
                    + payload / MIB
                    + " MiB) do not fit the "
                    + ESP_BYTES / MIB
                    + " MiB EFI system partition with room to spare");
        }
        SparseFiles.createSparse(espImg, ESP_BYTES);
        // --invariant: no creation time from the clock (the volume id is given with -i).
        Exec.of(
                        "mkfs.fat",
                        "--invariant",
                        "-F",
                        "32",
                        "-n",
                        ESP_LABEL,
                        "-i",
                        volumeId,
                        "-h",
                        Long.toString(ESP_LBA),
                        espImg.toString())
                .onLine(detail)
                .run();
        Clamp.set(bootx64, sourceDateEpoch);
        Clamp.set(grubCfg, sourceDateEpoch);
        mtools("mmd", espImg, "::/EFI", "::/EFI/BOOT", "::/boot", "::/boot/grub")
                .env("SOURCE_DATE_EPOCH", epoch)
                .run();
        mtools("mcopy", espImg, bootx64.toString(), "::/EFI/BOOT/BOOTX64.EFI")
                .env("SOURCE_DATE_EPOCH", epoch)
                .run();
        mtools("mcopy", espImg, grubCfg.toString(), "::/boot/grub/grub.cfg")
                .env("SOURCE_DATE_EPOCH", epoch)
                .run();
        mtools("mcopy", espImg, kernel.toAbsolutePath().toString(), "::/vmlinuz")
                .env("SOURCE_DATE_EPOCH", epoch)
                .run();
        mtools("mcopy", espImg, initrd.toAbsolutePath().toString(), "::/initrd.img")
                .env("SOURCE_DATE_EPOCH", epoch)
                .run();
    }

    private static Exec mtools(String tool, Path image, String... args) {
        List<String> cmd = new ArrayList<>(List.of(tool, "-i", image.toString()));
        if (tool.equals("mcopy")) {
            cmd.add("-m"); // keep source modification times
        }
        cmd.addAll(Arrays.asList(args));
        // FAT time stamps are local time: UTC, so the build host's zone does not end up in the
        // bytes.
        return Exec.of(cmd)
                .env("MTOOLS_SKIP_CHECK", "1")
                .env("MTOOLSRC", "/dev/null")
                .env("TZ", "UTC");
    }
}
