package dev.kiln.rollout;

/**
 * What an operator asks kiln rollout plan (and apply with flags) for.
 *
 * @param to NAME:VERSION or NAME@ENV, or null: each node's desired version (the inventory's)
 * @param maxUnavailable "2" or "10%" (default 1)
 * @param onFailure rollback (default) or halt
 * @param allowUnvalidated plan a version no kiln validate passed (a blocker otherwise)
 */
public record PlanRequest(
        String cluster,
        String to,
        String maxUnavailable,
        String onFailure,
        Long drainTimeoutSeconds,
        Long nodeTimeoutSeconds,
        boolean forceDrain,
        boolean allowUnvalidated) {
    public static final long DEFAULT_DRAIN_TIMEOUT = 300;
    public static final long DEFAULT_NODE_TIMEOUT = 900;

    public PlanRequest {
        if (cluster == null || cluster.isBlank()) {
            throw new IllegalArgumentException("--cluster: expected the name of an inventory cluster");
        }
        maxUnavailable = maxUnavailable == null ? "1" : maxUnavailable;
        onFailure = onFailure == null ? "rollback" : onFailure;
        if (!onFailure.equals("rollback") && !onFailure.equals("halt")) {
            throw new IllegalArgumentException("--on-failure: expected rollback or halt, got '" + onFailure + "'");
        }
        drainTimeoutSeconds = drainTimeoutSeconds == null ? DEFAULT_DRAIN_TIMEOUT : drainTimeoutSeconds;
        nodeTimeoutSeconds = nodeTimeoutSeconds == null ? DEFAULT_NODE_TIMEOUT : nodeTimeoutSeconds;
        if (drainTimeoutSeconds <= 0 || nodeTimeoutSeconds <= 0) {
            throw new IllegalArgumentException("--drain-timeout and --node-timeout must be positive seconds");
        }
    }
}
