package dev.kiln.fleet;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.kiln.core.node.AgentStep;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The last thing a node reported (or the server saw of it), with the server's receive time: node
 * clocks are not trusted, and a node that booted minutes ago may not have NTP yet.
 *
 * @param image the node's /etc/kiln/image.json as it sent it (name, version, specSha256, ...)
 * @param kernel what {@code uname -r} printed on the node
 * @param phase what the agent was doing when it reported (metadata, placeholders, bootstrap,
 *     wait-for-nodes, checks): on a "failed" report, the step that failed
 * @param checks results of the checks a validation run asked for (POST /checks), kept until the
 *     node boots again
 * @param from the remote address the report came from (for the operator; not an identity)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record NodeStatus(
        String step,
        String detail,
        String phase,
        Map<String, Object> image,
        String kernel,
        List<Map<String, Object>> checks,
        String receivedAt,
        String from) {
    /**
     * Recorded by the server itself when it hands a node its boot script: the node is (re)booting.
     */
    public static final String IPXE = "ipxe";

    /** "name:version" from the reported image.json, or null. */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public String reportedImage() {
        if (image == null || image.get("name") == null || image.get("version") == null) {
            return null;
        }
        return image.get("name") + ":" + image.get("version");
    }

    /** Whole seconds since the server received it. */
    public long ageSeconds(Instant now) {
        return Math.max(0, Duration.between(Instant.parse(receivedAt), now).getSeconds());
    }

    /**
     * This report, keeping the image, kernel and check results of earlier reports when it does not
     * carry them; a node that boots again (iPXE or "booted") starts with no check results.
     */
    NodeStatus over(NodeStatus previous) {
        if (previous == null) {
            return this;
        }
        boolean reboot = IPXE.equals(step) || AgentStep.BOOTED.is(step);
        return new NodeStatus(
                step,
                detail,
                phase,
                image != null ? image : previous.image,
                kernel != null ? kernel : previous.kernel,
                checks != null || reboot ? checks : previous.checks,
                receivedAt,
                from);
    }

    NodeStatus withChecks(List<Map<String, Object>> results) {
        return new NodeStatus(step, detail, phase, image, kernel, List.copyOf(results), receivedAt, from);
    }
}
