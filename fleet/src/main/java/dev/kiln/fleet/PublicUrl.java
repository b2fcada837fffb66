package dev.kiln.fleet;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The URL nodes are told to use when kiln serve listens on every address (0.0.0.0 or ::) and no
 * --public-url is given: "http://0.0.0.0:8080" reaches nothing from a node. The only IPv4 address
 * of this host is a safe guess; with several, the operator must choose, and is shown them.
 */
public final class PublicUrl {
    /** An address of this host and its interface, e.g. 10.0.0.2 on eth0. */
    public record Candidate(String address, String iface) {}

    /** What kiln serve does: tell nodes {@code url} (and say why), or refuse with {@code error}. */
    public record Decision(String url, String why, String error) {}

    private PublicUrl() {}

    public static boolean isWildcard(String host) {
        return host.equals("0.0.0.0") || host.equals("::") || host.equals("0:0:0:0:0:0:0:0");
    }

    /** Decides from the host's addresses; {@code port} must be the real port (not 0). */
    public static Decision derive(int port, List<Candidate> candidates) {
        if (port == 0) {
            return new Decision(
                    null,
                    null,
                    "--listen on every address with port 0 needs --public-url: nodes must be"
                            + " told a fixed address and port");
        }
        if (candidates.size() == 1) {
            Candidate c = candidates.get(0);
            return new Decision(
                    "http://" + c.address() + ":" + port,
                    "the only IPv4 address of this host, on " + c.iface() + "; --public-url chooses another",
                    null);
        }
        StringBuilder list = new StringBuilder();
        for (Candidate c : candidates) {
            list.append(list.length() == 0 ? "" : ", ")
                    .append(c.address())
                    .append(" (")
                    .append(c.iface())
                    .append(')');
        }
        return new Decision(
                null,
                null,
                "--public-url is required: nodes cannot reach 0.0.0.0, and this host has "
                        + (candidates.isEmpty()
                                ? "no IPv4 address besides loopback"
                                : candidates.size() + " addresses: " + list)
                        + "; give the one on the boot network, e.g. --public-url http://"
                        + (candidates.isEmpty() ? "10.0.0.2" : candidates.get(0).address())
                        + ":"
                        + port);
    }

    /** The host's IPv4 addresses on interfaces that are up, loopback excluded. */
    public static List<Candidate> hostAddresses() throws SocketException {
        List<Candidate> found = new ArrayList<>();
        for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nif.isUp() || nif.isLoopback()) {
                continue;
            }
            for (InetAddress a : Collections.list(nif.getInetAddresses())) {
                if (a instanceof Inet4Address && !a.isLoopbackAddress()) {
                    found.add(new Candidate(a.getHostAddress(), nif.getName()));
                }
            }
        }
        return found;
    }
}
