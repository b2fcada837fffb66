package dev.kiln.validator.provider;

import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Why: choosing the /24 (and its matching IPv6 prefix) for a run's private network means reading
 * the host's routes and doing prefix arithmetic, which has nothing to do with plumbing the
 * namespace.
 */
final class LanSubnet {
    private LanSubnet() {}

    /**
     * A random 10.200-239.x.0/24 (kept clear of common Docker and Kubernetes ranges) the host does
     * not use.
     */
    static String findFree() throws IOException, InterruptedException {
        String used = Exec.of("ip", "-4", "route", "show", "table", "all")
                        .runAllowingFailure()
                        .output()
                + Exec.of("ip", "-4", "addr").runAllowingFailure().output();
        List<long[]> taken = new ArrayList<>();
        Matcher m = Pattern.compile("\\b(\\d{1,3}(?:\\.\\d{1,3}){3})(?:/(\\d{1,2}))?\\b")
                .matcher(used);
        while (m.find()) {
            int bits = m.group(2) == null ? 32 : Integer.parseInt(m.group(2));
            taken.add(new long[] {ipv4(m.group(1)), bits});
        }
        SecureRandom random = new SecureRandom();
        for (int attempt = 0; attempt < 100; attempt++) {
            String candidate = "10." + (200 + random.nextInt(40)) + "." + random.nextInt(256);
            long base = ipv4(candidate + ".0");
            // Overlap of two prefixes: compare both under the shorter one's mask.
            boolean clash = taken.stream().anyMatch(t -> {
                int bits = (int) Math.min(24, t[1]);
                long mask = bits == 0 ? 0 : (0xFFFFFFFFL << (32 - bits)) & 0xFFFFFFFFL;
                return (t[0] & mask) == (base & mask);
            });
            if (!clash) {
                return candidate;
            }
        }
        throw new IOException(
                "found no free 10.200-239.x.0/24 for the validation network; the host routes all of them");
    }

    /** The ULA /64 named after the IPv4 subnet: 10.A.B.0/24 gets fd6b:6c6e:A:B::/64. */
    static String ipv6Prefix(String subnet) {
        String[] octets = subnet.split("\\.");
        return "fd6b:6c6e:"
                + Integer.toHexString(Integer.parseInt(octets[1]))
                + ":"
                + Integer.toHexString(Integer.parseInt(octets[2]))
                + "::";
    }

    private static long ipv4(String dotted) {
        long v = 0;
        for (String part : dotted.split("\\.")) {
            v = (v << 8) | (Integer.parseInt(part) & 0xFF);
        }
        return v;
    }
}
