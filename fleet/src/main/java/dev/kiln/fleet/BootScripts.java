package dev.kiln.fleet;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.util.ConsoleText;

/**
 * The iPXE scripts kiln serve hands out. DHCP points iPXE at {@link #generic}; it asks for the
 * script of its own MAC, which either chains the assigned image's pxe/boot.ipxe with kiln-base and
 * kiln-args set (see the builder's PxeBundle), or explains why the machine will not boot and asks
 * again later. There is no default image: an unknown machine never boots anything.
 */
public final class BootScripts {
    /** Seconds a refused machine waits before asking again (an inventory edit lets it boot). */
    static final int RETRY_SECONDS = 30;

    private BootScripts() {}

    /** What DHCP hands iPXE: ask for this machine's own script. */
    public static String generic(String publicUrl) {
        return "#!ipxe\n"
                + "# kiln serve: ask for the script of this machine (by the MAC of the booting NIC).\n"
                + "chain "
                + publicUrl
                + "/ipxe?mac=${net0/mac} || goto retry\n"
                + ":retry\n"
                + "echo kiln: cannot reach kiln serve at "
                + publicUrl
                + ", retrying in 10 s\n"
                + "sleep 10\n"
                + "chain "
                + publicUrl
                + "/ipxe?mac=${net0/mac}\n";
    }

    /** Boots the image assigned to a known node. The token is this node's own credential. */
    public static String boot(String publicUrl, String mac, String node, String cluster, ImageRef image, String token) {
        String base = publicUrl + "/images/" + image.name() + "/" + image.version();
        return "#!ipxe\n"
                + "# kiln serve: "
                + safe(node)
                + " of cluster "
                + safe(cluster)
                + " ("
                + mac
                + ") boots "
                + safe(image.toString())
                + "\n"
                + "set kiln-base "
                + base
                + "\n"
                + "set kiln-args kiln.server="
                + publicUrl
                + " kiln.token="
                + token
                + " kiln.mac="
                + mac
                + "\n"
                + "chain ${kiln-base}/pxe/boot.ipxe || goto retry\n"
                + ":retry\n"
                + "echo kiln: cannot load ${kiln-base}/pxe/boot.ipxe, asking kiln serve again in 10 s\n"
                + "sleep 10\n"
                + "chain "
                + publicUrl
                + "/ipxe?mac="
                + mac
                + "\n";
    }

    /** Does not boot: prints why on the console and asks again later. */
    public static String refuse(String publicUrl, String mac, String reason) {
        return "#!ipxe\n"
                + "# kiln serve refuses to boot this machine; it never falls back to a default image.\n"
                + "echo kiln: not booting "
                + mac
                + ": "
                + safe(reason)
                + "\n"
                + "echo kiln: asking kiln serve again in "
                + RETRY_SECONDS
                + " s\n"
                + "sleep "
                + RETRY_SECONDS
                + "\n"
                + "chain "
                + publicUrl
                + "/ipxe?mac="
                + mac
                + "\n";
    }

    /**
     * Text for an iPXE command line: no line breaks, and no '$' (iPXE would expand ${...}) or other
     * characters an operator-controlled file name or inventory value could smuggle in.
     */
    static String safe(String text) {
        return ConsoleText.scriptSafe(text);
    }
}
