package dev.kiln.rollout;

/**
 * What an operator asks kiln rollout plan --pool for: one Auto Scaling worker pool of an EC2
 * cluster moved to a version's AMI.
 *
 * @param pool the pool's name in the cluster's aws: entry
 * @param to NAME:VERSION (its AMI in the cluster's region, from published.json)
 * @param maxUnavailable instances replaced at once, "2" or "25%" of the group (default 1)
 * @param strategy "kiln" (default: batches kiln replaces and waits for) or "instance-refresh" (AWS's)
 * @param timeoutSeconds how long a batch has to come InService (default 900)
 */
public record PoolPlanRequest(
        String cluster, String pool, String to, String maxUnavailable, String strategy, Long timeoutSeconds) {
    public PoolPlanRequest {
        if (cluster == null || cluster.isBlank()) {
            throw new IllegalArgumentException("--cluster: expected the name of an inventory cluster");
        }
        if (pool == null || pool.isBlank()) {
            throw new IllegalArgumentException("--pool: expected the name of a pool in the cluster's aws: entry");
        }
        if (to == null || to.isBlank()) {
            throw new IllegalArgumentException("--to: a pool rollout needs the target NAME:VERSION");
        }
        maxUnavailable = maxUnavailable == null ? "1" : maxUnavailable;
        strategy = strategy == null ? "kiln" : strategy;
        if (!strategy.equals("kiln") && !strategy.equals("instance-refresh")) {
            throw new IllegalArgumentException("--strategy: expected kiln or instance-refresh, got '" + strategy + "'");
        }
        timeoutSeconds = timeoutSeconds == null ? PlanRequest.DEFAULT_NODE_TIMEOUT : timeoutSeconds;
        if (timeoutSeconds <= 0) {
            throw new IllegalArgumentException("--node-timeout must be positive seconds");
        }
    }
}
