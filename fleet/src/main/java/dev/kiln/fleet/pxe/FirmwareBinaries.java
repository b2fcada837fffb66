package dev.kiln.fleet.pxe;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Debian's iPXE builds (package {@code ipxe}) that a server's own firmware PXE loads before kiln's
 * iPXE script can run: {@code undionly.kpxe} for legacy BIOS (through the NIC's UNDI driver),
 * {@code snponly.efi} for UEFI (through the firmware's own network driver, so any NIC the firmware
 * can use works), {@code ipxe.efi} for UEFI HTTP Boot (its own drivers, loaded over HTTP).
 */
public final class FirmwareBinaries {
    public static final String BIOS = "undionly.kpxe";
    public static final String UEFI = "snponly.efi";
    public static final String UEFI_HTTP = "ipxe.efi";
    public static final List<String> NAMES = List.of(BIOS, UEFI, UEFI_HTTP);

    /** Where Debian's ipxe package puts them; $KILN_IPXE_DIR overrides (a site's own builds). */
    public static final Path DEBIAN_DIR = Path.of("/usr/lib/ipxe");

    private FirmwareBinaries() {}

    public static Path dir() {
        String env = System.getenv("KILN_IPXE_DIR");
        return env != null && !env.isBlank() ? Path.of(env) : DEBIAN_DIR;
    }

    /** The file for a name kiln serves (nothing else is ever resolved), if installed. */
    public static Optional<Path> file(String name) {
        if (!NAMES.contains(name)) {
            return Optional.empty();
        }
        Path p = dir().resolve(name);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    /** Fails with what to install when a binary is missing. */
    public static void require() {
        for (String n : NAMES) {
            if (file(n).isEmpty()) {
                throw new IllegalStateException("firmware PXE needs "
                        + dir().resolve(n)
                        + "; install the Debian package 'ipxe' (or set KILN_IPXE_DIR to a directory with "
                        + String.join(", ", NAMES)
                        + ")");
            }
        }
    }
}
