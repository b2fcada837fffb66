package dev.kiln.validator;

import dev.kiln.core.node.AgentStep;
import dev.kiln.core.node.Role;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.KilnServer;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.validator.ValidationReport.Check;
import dev.kiln.validator.ValidationReport.Failure;
import dev.kiln.validator.provider.NodeProvider;
import dev.kiln.validator.provider.NodeProvider.NodeBoot;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Why: turning what the nodes reported (steps, failures, check results, consoles) into one verdict
 * with its first error is the judging half of a validation, apart from running the cluster.
 */
final class ReportAssembler {
    private static final int CONSOLE_LINES = 30;

    private final KilnServer server;
    private final NodeProvider provider;
    private final NodeProgress progress;

    /**
     * @param server what each node reported last
     * @param provider the consoles of nodes that failed
     * @param progress when each node reached its steps, and what its root did
     */
    ReportAssembler(KilnServer server, NodeProvider provider, NodeProgress progress) {
        this.server = server;
        this.provider = provider;
        this.progress = progress;
    }

    /**
     * @param runStartedNanos System.nanoTime() when the run began: the report's seconds count from
     *     there
     */
    ValidationReport assemble(
            Manifest manifest,
            String providerName,
            CheckPlan plan,
            List<NodeBoot> nodes,
            int masters,
            int workers,
            String runId,
            Instant startedAt,
            long runStartedNanos,
            boolean timedOut,
            Duration timeout) {
        Map<String, List<Map<String, Object>>> reported = new LinkedHashMap<>();
        for (NodeBoot n : nodes) {
            NodeStatus s = server.status(n.mac());
            reported.put(n.name(), s == null ? null : s.checks());
        }
        Map<String, String> shared = CheckPlan.sharedIdentities(reported);
        List<ValidationReport.Node> rows = new ArrayList<>();
        List<Check> cluster = new ArrayList<>();
        String initMaster = nodes.get(0).name();
        for (NodeBoot n : nodes) {
            NodeStatus s = server.status(n.mac());
            Failure failure = failureOf(s, timedOut, timeout);
            List<Check> checks = new ArrayList<>();
            if (s != null && s.checks() != null) {
                for (Check c : plan.nodeResults(n.name(), s.checks())) {
                    if (CheckPlan.HYGIENE.equals(c.check()) && shared.containsKey(n.name())) {
                        c = new Check(c.check(), Check.FAIL, shared.get(n.name()), n.name());
                    }
                    checks.add(c);
                }
                if (n.name().equals(initMaster)) {
                    cluster.addAll(plan.clusterResults(initMaster, s.checks()));
                }
            }
            List<String> console = failure != null || checks.stream().anyMatch(c -> Check.FAIL.equals(c.status()))
                    ? List.of(provider.consoleTail(n.name(), CONSOLE_LINES).split("\r?\n"))
                    : null;
            rows.add(new ValidationReport.Node(
                    n.name(),
                    roleOf(n, nodes),
                    n.address(),
                    n.mac(),
                    s == null ? null : s.kernel(),
                    progress.reached(n.name()),
                    failure,
                    checks,
                    console,
                    progress.root(n.name())));
        }
        boolean nodesOk = rows.stream().allMatch(ValidationReport.Node::passed);
        boolean clusterOk = cluster.stream().noneMatch(c -> Check.FAIL.equals(c.status()))
                && (!plan.hasClusterChecks() || !cluster.isEmpty());
        String error = null;
        if (!nodesOk || !clusterOk) {
            error = firstError(rows, cluster);
        }
        return new ValidationReport(
                1,
                manifest.ref(),
                manifest.specSha256(),
                providerName,
                masters,
                workers,
                runId,
                startedAt.toString(),
                NodeProgress.round((System.nanoTime() - runStartedNanos) / 1e9),
                nodesOk && clusterOk ? ValidationReport.VALIDATED : ValidationReport.FAILED,
                error,
                plan.notes(),
                rows,
                cluster);
    }

    /** The bootstrap role a node got: the first master creates the cluster. */
    private static String roleOf(NodeBoot n, List<NodeBoot> all) {
        if (!"master".equals(n.role())) {
            return Role.JOIN_WORKER.wire();
        }
        return (all.get(0) == n ? Role.INIT_MASTER : Role.JOIN_MASTER).wire();
    }

    private static Failure failureOf(NodeStatus s, boolean timedOut, Duration timeout) {
        if (s != null && AgentStep.FAILED.is(s.step())) {
            return new Failure(s.phase() != null ? s.phase() : "unknown", s.detail());
        }
        if (s != null && s.checks() != null) {
            return null;
        }
        String last = s == null ? null : s.step();
        String stuck = last == null || NodeStatus.IPXE.equals(last)
                ? "boot"
                : AgentStep.parse(last).map(AgentStep::nextPhase).orElse(last);
        String why = timedOut
                ? "no progress past '" + (last == null ? "power-on" : last) + "' within " + timeout.toSeconds() + " s"
                : "stopped waiting after another node failed; last step '" + (last == null ? "power-on" : last) + "'";
        return new Failure(stuck, why + (s != null && s.detail() != null ? " (" + s.detail() + ")" : ""));
    }

    private static String firstError(List<ValidationReport.Node> rows, List<Check> cluster) {
        for (ValidationReport.Node n : rows) {
            if (n.failure() != null && !n.failure().error().startsWith("stopped waiting")) {
                return n.name() + ": " + n.failure().step() + " failed: "
                        + n.failure().error();
            }
        }
        for (ValidationReport.Node n : rows) {
            for (Check c : n.checks()) {
                if (Check.FAIL.equals(c.status())) {
                    return n.name() + ": check " + c.check() + " failed: " + c.detail();
                }
            }
        }
        for (Check c : cluster) {
            if (Check.FAIL.equals(c.status())) {
                return "cluster check " + c.check() + " (on " + c.node() + ") failed: " + c.detail();
            }
        }
        for (ValidationReport.Node n : rows) {
            if (n.failure() != null) {
                return n.name() + ": " + n.failure().step() + " failed: "
                        + n.failure().error();
            }
        }
        return "the init-master sent no cluster check results";
    }
}
