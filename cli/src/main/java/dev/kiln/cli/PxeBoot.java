package dev.kiln.cli;

/** --pxe-boot of kiln validate and kiln lab: how diskless QEMU machines reach iPXE. */
final class PxeBoot {
    private PxeBoot() {}

    /** True for "firmware" (UEFI firmware PXE and kiln's ProxyDHCP), false for "rom" (QEMU's iPXE ROM). */
    static boolean firmware(String value) {
        return switch (value) {
            case "rom" -> false;
            case "firmware" -> true;
            default -> throw new IllegalArgumentException("--pxe-boot: expected rom or firmware, got '" + value + "'");
        };
    }
}
