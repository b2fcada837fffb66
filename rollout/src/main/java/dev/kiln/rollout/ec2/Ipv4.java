package dev.kiln.rollout.ec2;

/** IPv4 addresses against a subnet's CIDR block, for the address blockers. */
final class Ipv4 {
    private Ipv4() {}

    static long value(String address) {
        String[] p = address.split("\\.");
        if (p.length != 4) {
            throw new IllegalArgumentException("not an IPv4 address: " + address);
        }
        long v = 0;
        for (String octet : p) {
            int o = Integer.parseInt(octet);
            if (o < 0 || o > 255) {
                throw new IllegalArgumentException("not an IPv4 address: " + address);
            }
            v = (v << 8) | o;
        }
        return v;
    }

    static boolean inSubnet(String address, String cidr) {
        try {
            long[] r = range(cidr);
            long a = value(address);
            return a >= r[0] && a <= r[1];
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** AWS keeps the first four addresses of every subnet and its last one. */
    static boolean reservedInSubnet(String address, String cidr) {
        long[] r = range(cidr);
        long a = value(address);
        return a - r[0] < 4 || a == r[1];
    }

    private static long[] range(String cidr) {
        int slash = cidr.indexOf('/');
        int bits = Integer.parseInt(cidr.substring(slash + 1));
        long base = value(cidr.substring(0, slash));
        long size = 1L << (32 - bits);
        long first = base & ~(size - 1) & 0xffffffffL;
        return new long[] {first, first + size - 1};
    }
}
