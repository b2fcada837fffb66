package dev.kiln.validator;

import dev.kiln.core.store.Manifest;
import dev.kiln.validator.ValidationReport.Check;
import java.util.List;
import java.util.Map;

/**
 * The spec's node checks for a node that boots into a running cluster (a rollout's replacement):
 * the same check plan kiln validate runs, without the cluster-wide checks, which the rollout's own
 * cluster safety covers.
 */
public final class NodeChecks {
    private final CheckPlan plan;

    public NodeChecks(Manifest manifest) {
        this.plan = new CheckPlan(manifest, false, "machine");
    }

    /** The metadata value "kilnChecks" the node's agent runs. */
    public String metadataValue() {
        return plan.nodeOnlyMetadataValue();
    }

    /**
     * The failed checks in what the node reported, as "check: detail"; empty when all passed. A
     * check the node did not report fails.
     */
    public List<String> failures(String nodeName, List<Map<String, Object>> reported) {
        return plan.nodeResults(nodeName, reported).stream()
                .filter(c -> !Check.PASS.equals(c.status()) && !Check.SKIP.equals(c.status()))
                .map(c -> c.check() + ": " + c.detail())
                .toList();
    }
}
