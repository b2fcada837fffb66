package dev.kiln.validator.provider;

import dev.kiln.validator.provider.NodeProvider.NodeBoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Why: what dnsmasq is told (DHCP only, one fixed address per node's MAC), where its binary is and
 * when it is ready are dnsmasq's own business; the namespace LAN only runs it.
 */
final class DnsmasqDhcp {
    private DnsmasqDhcp() {}

    /**
     * dnsmasq.conf for the run: DHCP only on {@code bridge}, {@code nodes} at their fixed
     * addresses, the lease and pid files in {@code runDir}. {@code extraConf} holds the provider's
     * own lines (boot file, routes, ...).
     *
     * @param nodeAddresses the addresses the network handed out, in node order; each node must
     *     have its own
     */
    static String config(
            String runId,
            Path runDir,
            String bridge,
            String subnet,
            String gateway,
            List<String> nodeAddresses,
            List<NodeBoot> nodes,
            String purpose,
            String extraConf) {
        StringBuilder conf = new StringBuilder("# kiln validate "
                + runId
                + ": DHCP only, fixed addresses, "
                + purpose
                + "\n"
                + "port=0\n"
                + "interface="
                + bridge
                + "\n"
                + "bind-interfaces\n"
                // Only the MACs below get an address; anything else on the bridge gets nothing.
                + "dhcp-range="
                + subnet
                + ".0,static,255.255.255.0,12h\n"
                + "dhcp-authoritative\n"
                // Firmware, initramfs and systemd-networkd identify themselves differently; the
                // MAC alone must keep the node's address across all of them.
                + "dhcp-ignore-clid\n"
                + "dhcp-rapid-commit\n"
                + extraConf
                // The bridge's address is a gateway to nowhere: software that insists on a
                // default route gets one, and nothing leaves the /24. No DNS server.
                + "dhcp-option=option:router,"
                + gateway
                + "\n"
                + "dhcp-option=option:dns-server\n"
                + "dhcp-leasefile="
                + runDir.resolve("dnsmasq.leases")
                + "\n"
                + "pid-file="
                + runDir.resolve("dnsmasq.pid")
                + "\n"
                + "log-facility=-\n"
                + "log-dhcp\n");
        for (int i = 0; i < nodes.size(); i++) {
            NodeBoot n = nodes.get(i);
            if (!n.address().equals(nodeAddresses.get(i))) {
                throw new IllegalArgumentException("node "
                        + n.name()
                        + " has address "
                        + n.address()
                        + " but createNetwork gave it "
                        + nodeAddresses.get(i));
            }
            conf.append("dhcp-host=")
                    .append(n.mac())
                    .append(',')
                    .append(n.address())
                    .append(',')
                    .append(n.name())
                    .append('\n');
        }
        return conf.toString();
    }

    /**
     * The dnsmasq binary.
     *
     * @param provider the provider's name, for the error message
     */
    static String binary(String provider) throws IOException {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin")) {
            Path p = Path.of(dir, "dnsmasq");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IOException("dnsmasq not found: kiln validate --provider "
                + provider
                + " needs it; install the Debian package dnsmasq-base");
    }

    /** Waits (10 s at most) until dnsmasq, logging to {@code logFile}, says it serves DHCP. */
    static void awaitReady(Process p, Path logFile, String namespace) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!NamespaceLan.readQuietly(logFile).contains("DHCP, ")) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("dnsmasq did not start in namespace "
                        + namespace
                        + " (see "
                        + logFile
                        + "): "
                        + NamespaceLan.readQuietly(logFile).strip());
            }
            Thread.sleep(50);
        }
    }
}
