package dev.kiln.rollout;

/**
 * --max-unavailable: how many nodes of a cluster may be down at once, as a count ("2") or a share of
 * the cluster ("10%", rounded down, at least 1). Nodes already not ready count against it.
 */
public final class Budget {
    private Budget() {}

    /** The budget for a cluster of {@code clusterSize} nodes. */
    public static int of(String spec, int clusterSize) {
        String s = spec == null ? "1" : spec.trim();
        try {
            if (s.endsWith("%")) {
                double percent = Double.parseDouble(s.substring(0, s.length() - 1));
                if (percent <= 0 || percent > 100) {
                    throw new NumberFormatException();
                }
                return Math.max(1, (int) Math.floor(clusterSize * percent / 100.0));
            }
            int n = Integer.parseInt(s);
            if (n < 1) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "--max-unavailable: expected a number of nodes (2) or a share of the cluster (10%), got '" + spec
                            + "'");
        }
    }
}
