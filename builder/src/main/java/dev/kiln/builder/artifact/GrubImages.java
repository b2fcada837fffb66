package dev.kiln.builder.artifact;

import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Why: which GRUB modules and prefixes the BIOS core.img and the EFI BOOTX64.EFI embed is one
 * decision, kept in one place.
 */
final class GrubImages {

    static final Path GRUB_PC_DIR = Path.of("/usr/lib/grub/i386-pc");
    static final Path GRUB_EFI_DIR = Path.of("/usr/lib/grub/x86_64-efi");
    private static final List<String> GRUB_COMMON_MODULES = List.of(
            "part_gpt",
            "part_msdos",
            "fat",
            "normal",
            "linux",
            "echo",
            "serial",
            "terminal",
            "configfile",
            "search",
            "search_fs_uuid",
            "search_fs_file",
            "search_label",
            "test",
            "ls",
            "cat",
            "sleep",
            "halt",
            "reboot",
            "gzio");
    private static final List<String> GRUB_PC_MODULES = List.of("biosdisk");
    private static final List<String> GRUB_EFI_MODULES = List.of("efi_gop", "all_video");
    static final String GRUB_PC_PREFIX = "(,gpt2)/boot/grub";
    static final String GRUB_EFI_PREFIX = "/boot/grub";

    private GrubImages() {}

    /** GRUB's i386-pc boot.img, patched into the MBR. */
    static Path bootImg() {
        return GRUB_PC_DIR.resolve("boot.img");
    }

    /** Writes the BIOS {@code coreImg} and the EFI {@code bootx64} with grub-mkimage. */
    static void make(Path coreImg, Path bootx64, Consumer<String> detail) throws IOException {
        DiskImageWriter.requireFile(bootImg(), "GRUB i386-pc boot.img (Debian package grub-pc-bin)");
        DiskImageWriter.requireFile(
                GRUB_PC_DIR.resolve("moddep.lst"), "GRUB i386-pc modules (Debian package grub-pc-bin)");
        DiskImageWriter.requireFile(
                GRUB_EFI_DIR.resolve("moddep.lst"), "GRUB x86_64-efi modules (Debian package grub-efi-amd64-bin)");
        List<String> pc = new ArrayList<>(List.of(
                "grub-mkimage",
                "-O",
                "i386-pc",
                "-d",
                GRUB_PC_DIR.toString(),
                "-p",
                GRUB_PC_PREFIX,
                "-o",
                coreImg.toString()));
        pc.addAll(GRUB_PC_MODULES);
        pc.addAll(GRUB_COMMON_MODULES);
        Exec.of(pc).onLine(detail).run();
        List<String> efi = new ArrayList<>(List.of(
                "grub-mkimage",
                "-O",
                "x86_64-efi",
                "-d",
                GRUB_EFI_DIR.toString(),
                "-p",
                GRUB_EFI_PREFIX,
                "-o",
                bootx64.toString()));
        efi.addAll(GRUB_EFI_MODULES);
        efi.addAll(GRUB_COMMON_MODULES);
        Exec.of(efi).onLine(detail).run();
    }
}
