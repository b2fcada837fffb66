package dev.kiln.builder.artifact;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * pxe/: vmlinuz, initrd.img, rootfs.squashfs and boot.ipxe. boot.ipxe is a real iPXE script that
 * expects two variables set by whoever chains it (kiln serve does): {@code kiln-base}, the URL of
 * this image version's directory, and {@code kiln-args}, per-node kernel arguments such as the
 * metadata URL and the node's credential.
 */
public final class PxeBundle {
    private PxeBundle() {}

    public static void write(Path pxeDir, Path kernel, Path initrd, String squashfsSha256, String cmdline)
            throws IOException {
        Files.createDirectories(pxeDir);
        Files.copy(kernel, pxeDir.resolve("vmlinuz"), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(initrd, pxeDir.resolve("initrd.img"), StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(pxeDir.resolve("boot.ipxe"), script(squashfsSha256, cmdline));
    }

    static String script(String squashfsSha256, String cmdline) {
        // panic=30: a node that cannot fetch or verify its root reboots and PXE-boots again.
        String args = "boot=kiln ip=dhcp panic=30 kiln.root=${kiln-base}/pxe/rootfs.squashfs kiln.root.sha256="
                + squashfsSha256
                + (cmdline.isBlank() ? "" : " " + cmdline.trim())
                + " ${kiln-args}";
        return "#!ipxe\n"
                + "# Boots this image diskless: the initrd fetches rootfs.squashfs over HTTP, checks its sha256,\n"
                + "# and runs it from RAM. Chain it with kiln-base (this version's URL) and kiln-args set.\n"
                + "isset ${kiln-base} || goto nobase\n"
                + "kernel ${kiln-base}/pxe/vmlinuz initrd=initrd.img "
                + args
                + " || goto failed\n"
                + "initrd --name initrd.img ${kiln-base}/pxe/initrd.img || goto failed\n"
                + "boot || goto failed\n"
                + ":nobase\n"
                + "echo kiln: kiln-base is not set; chain this script from kiln serve\n"
                + "exit 1\n"
                + ":failed\n"
                + "echo kiln: boot failed, retrying in 10 s\n"
                + "sleep 10\n"
                + "chain ${kiln-base}/pxe/boot.ipxe\n";
    }
}
