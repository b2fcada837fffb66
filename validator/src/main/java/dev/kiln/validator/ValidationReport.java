package dev.kiln.validator;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * What one validation run found, as written to report.json (and, reshaped, to junit.xml and the
 * console summary).
 *
 * @param result "validated" when every node bootstrapped and every check passed, else "failed"
 * @param seconds wall time from the first resource created to the verdict (teardown excluded)
 * @param notes what this run could not check and why (e.g. kernel checks on containers)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ValidationReport(
        int schema,
        String image,
        String specSha256,
        String provider,
        int masters,
        int workers,
        String runId,
        String startedAt,
        double seconds,
        String result,
        String error,
        List<String> notes,
        List<Node> nodes,
        List<Check> cluster) {

    public static final String VALIDATED = "validated";
    public static final String FAILED = "failed";

    @JsonIgnore
    public boolean passed() {
        return VALIDATED.equals(result);
    }

    /**
     * One node: how far it got and when (seconds since it was powered on), how it failed if it did,
     * and its checks.
     *
     * @param reached step name (booted, metadata-fetched, bootstrap-started, ready, checked) to
     *     seconds since the node was started
     * @param failure set when the node's agent reported "failed" or the node never finished
     * @param console the end of the node's console, for failed nodes only
     * @param root what the node's disk root did at boot, as its agent reported it (e.g. "grown 1.7G
     *     -> 7.7G (/dev/nvme0n1p3 fills the 8.0G disk /dev/nvme0n1)"), when it said
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Node(
            String name,
            String role,
            String address,
            String mac,
            String kernel,
            Map<String, Double> reached,
            Failure failure,
            List<Check> checks,
            List<String> console,
            String root) {
        public Node(
                String name,
                String role,
                String address,
                String mac,
                String kernel,
                Map<String, Double> reached,
                Failure failure,
                List<Check> checks,
                List<String> console) {
            this(name, role, address, mac, kernel, reached, failure, checks, console, null);
        }

        @JsonIgnore
        public boolean passed() {
            return failure == null && checks.stream().allMatch(c -> !Check.FAIL.equals(c.status()));
        }
    }

    /**
     * @param step the agent's phase that failed (metadata, placeholders, bootstrap, ...)
     */
    public record Failure(String step, String error) {}

    /**
     * @param status pass, fail or skip
     * @param node the node that ran it (cluster checks: the init-master)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Check(String check, String status, String detail, String node) {
        public static final String PASS = "pass";
        public static final String FAIL = "fail";
        public static final String SKIP = "skip";
    }
}
