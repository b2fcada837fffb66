package dev.kiln.rollout;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.rollout.JournalView.EventType;
import dev.kiln.validator.NodeChecks;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node of a rollout, forward (preflight, drain, repoint, power, confirm) and, when it fails and
 * the plan says so, back (rollback-drain, rollback-repoint, rollback-power, rollback-confirm).
 * Each step's intent is journaled before it acts and its outcome after; a step found begun and
 * not ended (a kiln serve restart) checks the world before acting again.
 */
final class NodeSteps {
    private static final Logger LOG = LoggerFactory.getLogger(NodeSteps.class);

    private final RolloutRun run;
    private final RolloutController controller;
    private final FleetState server;
    private final EngineEnv env;
    private final Journal journal;
    private final Plan plan;

    NodeSteps(RolloutRun run, RolloutController controller, Plan plan) {
        this.run = run;
        this.controller = controller;
        this.server = controller.server();
        this.env = controller.env();
        this.journal = run.journal();
        this.plan = plan;
    }

    /** When the node's last "begin power" was journaled (its replacement's start), or null. */
    private Instant powerBegun(String node, Step powerStep) {
        return journal.view().node(node).begun().get(powerStep.wire);
    }

    /** Replaces one node; true when it is confirmed on its target. */
    boolean replace(Plan.Node n) throws IOException, InterruptedException {
        JournalView.Node p = run.progress(n.name());
        // A node retried after it went down starts at its repoint; one that is up after all (it
        // reported ready since) starts over at its preflight and drain.
        boolean retryDown = journal.view().node(n.name()).state() == JournalView.NodeState.RETRY_DOWN
                && run.leftDown(n.name(), server.status(n.mac()));
        boolean fresh = p.state() == JournalView.NodeState.PENDING
                || p.state() == JournalView.NodeState.SKIPPED
                || p.state() == JournalView.NodeState.RETRY_DOWN;
        // A master tried again drains first: the failed boot may have joined etcd, and its member
        // must go before a clean boot joins under the same name.
        int from = retryDown
                ? Step.FORWARD.indexOf("master".equals(n.role()) ? Step.DRAIN : Step.REPOINT)
                : fresh ? 0 : Step.FORWARD.indexOf(Step.of(p.step())) + (p.stepEnded() ? 1 : 0);
        Step at = Step.of(p.step());
        if (!fresh && at != null && at.back()) {
            return rollbackNode(n, true);
        }
        ImageRef to = ImageRef.parse(n.to());
        NodeReplacer.Node target = replacerNode(n, to);
        try (NodeReplacer replacer = controller.drivers().replacer(plan.cluster(), run.id())) {
            ClusterGuard guard = controller.guardFor(plan.cluster(), n.to());
            for (int i = Math.max(0, from); i < Step.FORWARD.size(); i++) {
                Step step = Step.FORWARD.get(i);
                boolean resuming = !fresh && i == from && step == at && !p.stepEnded();
                if (!resuming) {
                    if (stoppingBefore(step)) {
                        return false;
                    }
                    if (run.goingBack()) {
                        return goBack(n, step);
                    }
                    String revoked = step == Step.REPOINT ? server.revoked(to) : null;
                    if (revoked != null) {
                        // Revoked while this node drained: it is not handed the version. It failed
                        // before going down, so a resume starts it again from its preflight.
                        return failed(
                                n,
                                Step.DRAIN,
                                to + " was revoked before " + n.name() + " was re-pointed (" + revoked
                                        + "); it stays on " + n.from());
                    }
                    journal.append(EventType.BEGIN, n.name(), step.wire, null);
                }
                run.doing(step.wire + " " + n.name());
                String detail;
                try {
                    detail = switch (step) {
                        case PREFLIGHT -> preflight(n, guard);
                        case DRAIN -> drain(n, guard);
                        case REPOINT -> repoint(n, to, guard, false);
                        case POWER -> power(n, target, replacer, resuming, Step.POWER);
                        case CONFIRM -> confirm(n, to, guard, powerBegun(n.name(), Step.POWER));
                        default -> throw new IllegalStateException(step.wire);
                    };
                } catch (ClusterGuard.DrainBlocked e) {
                    journal.append(
                            EventType.NODE_SKIPPED, n.name(), step.wire, e.getMessage() + "; retried at the end");
                    return true;
                } catch (StepFailed e) {
                    return failed(n, step, e.getMessage());
                } catch (IOException | RuntimeException e) {
                    return failed(n, step, e.getMessage() == null ? e.toString() : e.getMessage());
                }
                journal.append(EventType.END, n.name(), step.wire, detail);
            }
            if (run.goingBack()) {
                return goBack(n, null);
            }
            server.clearDirective(n.mac());
            journal.append(EventType.NODE_DONE, n.name(), null, "on " + n.to());
            return true;
        }
    }

    /**
     * kiln rollout abort --back reached this node before {@code next} (null: after its last
     * step): one already power-cycled (or a drained master) is taken back to its previous version
     * through the rollback steps; one not yet cycled is handed its version again and stops.
     */
    private boolean goBack(Plan.Node n, Step next) throws IOException, InterruptedException {
        int at = next == null ? Step.FORWARD.size() : Step.FORWARD.indexOf(next);
        boolean cycled = at > Step.FORWARD.indexOf(Step.POWER);
        // A drained master left etcd: only a boot brings it back as a member.
        boolean drainedMaster = "master".equals(n.role()) && at > Step.FORWARD.indexOf(Step.DRAIN);
        if (RolloutRun.wasServing(n) && (cycled || drainedMaster)) {
            return rollbackNode(n, false);
        }
        if (RolloutRun.wasServing(n) && at > Step.FORWARD.indexOf(Step.REPOINT)) {
            server.repoint(n.mac(), ImageRef.parse(n.from()), run.id()); // handed its version again
        }
        server.clearDirective(n.mac());
        journal.append(EventType.NODE_ROLLED_BACK, n.name(), null, "aborted before it went down: stays on " + n.from());
        return false;
    }

    /** Pause and abort stop a node only before it starts; a node once begun is seen through. */
    private boolean stoppingBefore(Step step) {
        return run.stoppingNewNodes() && step == Step.PREFLIGHT;
    }

    private NodeReplacer.Node replacerNode(Plan.Node n, ImageRef to) {
        return replacerNode(n, to, n.artifact());
    }

    private NodeReplacer.Node replacerNode(Plan.Node n, ImageRef to, String artifact) {
        return new NodeReplacer.Node(
                plan.cluster(),
                n.name(),
                n.mac(),
                n.role(),
                n.address(),
                n.from() == null || "null".equals(n.from()) ? null : ImageRef.parse(n.from()),
                to,
                artifact);
    }

    private boolean failed(Plan.Node n, Step step, String why) throws IOException, InterruptedException {
        journal.append(EventType.NODE_FAILED, n.name(), step.wire, why);
        LOG.error("rollout {}: {} failed at {}: {}", run.id(), n.name(), step.wire, why);
        run.requestHalt();
        boolean wentDown = step.down;
        boolean back = "rollback".equals(plan.onFailure()) || run.goingBack();
        if (back && wentDown && RolloutRun.wasServing(n)) {
            return rollbackNode(n, false);
        }
        if (wentDown) {
            return false;
        }
        // Not yet touched: put nothing back but the directive.
        server.clearDirective(n.mac());
        return false;
    }

    /** Takes a failed node back to its previous version: repoint, power, confirm. */
    private boolean rollbackNode(Plan.Node n, boolean resuming) throws IOException, InterruptedException {
        ImageRef back = ImageRef.parse(n.from());
        String revoked = server.revoked(back);
        if (revoked != null && !resuming) {
            // The way back leads to a revoked version (a rollback rollout's "previous" is the
            // target it undid): the node is not handed it.
            journal.append(
                    EventType.NODE_FAILED,
                    n.name(),
                    Step.ROLLBACK_REPOINT.wire,
                    "not taken back: " + back + " was revoked (" + revoked + ")");
            return false;
        }
        JournalView.Node p = run.progress(n.name());
        // A master is taken out of etcd again: the member its failed boot may have added must not
        // come back without its data.
        List<Step> steps = Step.BACK;
        int from = resuming && p.step() != null ? steps.indexOf(Step.of(p.step())) + (p.stepEnded() ? 1 : 0) : 0;
        try (NodeReplacer replacer = controller.drivers().replacer(plan.cluster(), run.id())) {
            ClusterGuard guard = controller.guardFor(plan.cluster(), n.from());
            for (int i = Math.max(0, from); i < steps.size(); i++) {
                Step step = steps.get(i);
                boolean again = resuming && i == from && step.wire.equals(p.step()) && !p.stepEnded();
                if (!again) {
                    journal.append(EventType.BEGIN, n.name(), step.wire, "back to " + back);
                }
                run.doing(step.wire + " " + n.name());
                String detail;
                try {
                    detail = switch (step) {
                        case ROLLBACK_DRAIN -> guard.drain(n, Duration.ofSeconds(plan.drainTimeoutSeconds()), true);
                        case ROLLBACK_REPOINT -> repoint(n, back, guard, true);
                        // The AMI of the version it goes back to, not the plan's target AMI.
                        case ROLLBACK_POWER ->
                            power(
                                    n,
                                    replacerNode(n, back, controller.drivers().artifact(plan.cluster(), back)),
                                    replacer,
                                    again,
                                    Step.ROLLBACK_POWER);
                        default -> confirm(n, back, guard, powerBegun(n.name(), Step.ROLLBACK_POWER));
                    };
                } catch (StepFailed | ClusterGuard.DrainBlocked | IOException | RuntimeException e) {
                    journal.append(
                            EventType.NODE_FAILED,
                            n.name(),
                            step.wire,
                            "rollback to " + back + " failed too: " + e.getMessage());
                    return false;
                }
                journal.append(EventType.END, n.name(), step.wire, detail);
            }
            server.clearDirective(n.mac());
            journal.append(EventType.NODE_ROLLED_BACK, n.name(), null, "back on " + back);
            return false;
        }
    }

    private static final class StepFailed extends Exception {
        StepFailed(String message) {
            super(message);
        }
    }

    private String preflight(Plan.Node n, ClusterGuard guard) throws StepFailed, InterruptedException {
        if (!server.hasBooted(n.mac())) {
            return n.name() + " never booted: brought up, nothing to check";
        }
        NodeStatus s = server.status(n.mac());
        if (s == null || !"ready".equals(s.step())) {
            throw new StepFailed(n.name() + " is not ready before its replacement (last report: "
                    + (s == null ? "none" : s.step() + (s.detail() == null ? "" : " " + s.detail())) + ")");
        }
        String why = guard.preflight(n);
        if (why != null) {
            throw new StepFailed(why);
        }
        return "ready" + ("master".equals(n.role()) ? "; cluster healthy, removal keeps quorum" : "");
    }

    private String drain(Plan.Node n, ClusterGuard guard)
            throws IOException, InterruptedException, ClusterGuard.DrainBlocked {
        if (!server.hasBooted(n.mac())) {
            return "never booted: nothing to drain";
        }
        return guard.drain(n, Duration.ofSeconds(plan.drainTimeoutSeconds()), plan.forceDrain());
    }

    private String repoint(Plan.Node n, ImageRef to, ClusterGuard guard, boolean back) throws IOException {
        Map<String, String> directive = new LinkedHashMap<>();
        directive.put("reimage", reimageId(n, back));
        String checks = controller.checksFor(to);
        if (checks != null) {
            directive.put("kilnChecks", checks);
        }
        if ("master".equals(n.role())) {
            List<Plan.Node> masters = liveMasters(n);
            String through = guard.joinThrough(n, masters);
            // A master that comes back joins the running cluster; it never creates a new one.
            if (through != null) {
                directive.put("role", "join-master");
                directive.put("masterAddr", through);
            }
        }
        server.direct(n.mac(), directive);
        server.repoint(n.mac(), to, run.id());
        return "kiln serve hands " + n.name() + " " + to
                + (directive.containsKey("role") ? "; it joins through " + directive.get("masterAddr") : "");
    }

    /**
     * The id a boot's reimage is known by: the rollout's, made unique per attempt and for the way
     * back. A node-local disk is wiped once per id, so a node taken back (or tried again) after a
     * boot that wrote to its disk gets a clean disk too, never the data of the boot that failed
     * (whose etcd member was removed).
     */
    private String reimageId(Plan.Node n, boolean back) {
        int retries = journal.view().node(n.name()).retries();
        return run.id() + (retries > 0 ? "-retry" + retries : "") + (back ? "-rollback" : "");
    }

    /** The cluster's other masters that booted and report ready (a join goes through one). */
    private List<Plan.Node> liveMasters(Plan.Node except) {
        List<Plan.Node> out = new ArrayList<>();
        for (Inventory.Member m : server.inventory().members()) {
            if (!m.cluster().name().equals(plan.cluster())
                    || !m.isMaster()
                    || m.name().equals(except.name())) {
                continue;
            }
            NodeStatus s = server.status(m.mac());
            if (server.hasBooted(m.mac()) && s != null && "ready".equals(s.step())) {
                out.add(new Plan.Node(
                        m.name(), m.mac(), m.node().role(), m.node().address(), null, null, null, null));
            }
        }
        return out;
    }

    /**
     * @param step POWER or ROLLBACK_POWER: whose "begin" record a resume looks up
     */
    private String power(Plan.Node n, NodeReplacer.Node target, NodeReplacer replacer, boolean resuming, Step step)
            throws IOException, InterruptedException {
        if (resuming) {
            Boolean done = replacer.alreadyReplaced(target);
            if (Boolean.TRUE.equals(done)) {
                return "already replaced before kiln serve restarted";
            }
            if (done == null) {
                // A BMC cannot say whether the cycle happened before kiln serve died, and a node
                // cycled a moment before it has not reported yet: wait for a sign of its boot
                // through half its boot allowance, and cycle only a node that stays silent.
                Instant begun = powerBegun(n.name(), step);
                Instant until = (begun == null ? env.now() : begun).plusSeconds(plan.nodeTimeoutSeconds() / 2);
                while (!bootedSince(n, begun) && env.now().isBefore(until)) {
                    env.sleep(controller.poll());
                }
                if (bootedSince(n, begun)) {
                    return "the node booted since the power step began: not cycled again";
                }
            }
        }
        return replacer.replace(target);
    }

    /** Whether kiln serve saw the node boot (boot script, or any report) after {@code since}. */
    private boolean bootedSince(Plan.Node n, Instant since) {
        NodeStatus s = server.status(n.mac());
        return since != null
                && s != null
                && s.receivedAt() != null
                && Instant.parse(s.receivedAt()).isAfter(since);
    }

    /**
     * Waits for the node's own word: a report after the power step with the target image and
     * kernel, ready, the spec's node checks passed, and for a master, back in the cluster. A BMC
     * that said OK is not proof.
     */
    private String confirm(Plan.Node n, ImageRef to, ClusterGuard guard, Instant powerAt)
            throws StepFailed, InterruptedException, IOException {
        Manifest manifest = controller.manifest(to);
        String kernel = manifest.kernel() == null ? null : manifest.kernel().release();
        NodeChecks checks = new NodeChecks(manifest);
        Instant since = powerAt == null ? env.now() : powerAt;
        Instant deadline = since.plusSeconds(plan.nodeTimeoutSeconds());
        String waiting = "no report since the power cycle";
        java.util.Set<String> seen = new java.util.HashSet<>();
        while (env.now().isBefore(deadline)) {
            NodeStatus s = server.status(n.mac());
            boolean fresh = s != null
                    && s.receivedAt() != null
                    && Instant.parse(s.receivedAt()).isAfter(since);
            // Milestones for the timeline (and bench/rollout.sh's split of a replacement). A fast
            // node may skip straight to ready between two looks: booted is then recorded with it.
            if (fresh && !NodeStatus.IPXE.equals(s.step()) && seen.add("booted")) {
                journal.append(EventType.MILESTONE, n.name(), "booted", "its agent reported booting");
            }
            if (fresh && "ready".equals(s.step()) && seen.add("ready")) {
                journal.append(EventType.MILESTONE, n.name(), "ready", "ready on " + s.reportedImage());
            }
            if (fresh && "failed".equals(s.step())) {
                throw new StepFailed(n.name() + " reported failed on " + s.reportedImage() + " ("
                        + (s.phase() == null ? "" : s.phase() + ": ") + s.detail() + ")");
            }
            if (fresh && "ready".equals(s.step())) {
                if (!to.toString().equals(s.reportedImage())) {
                    throw new StepFailed(n.name() + " came back on " + s.reportedImage() + ", not " + to
                            + " (did it boot from the network?)");
                }
                if (kernel != null && !kernel.equals(s.kernel())) {
                    throw new StepFailed(n.name() + " runs kernel " + s.kernel() + ", not " + kernel + " of " + to);
                }
                boolean checksAsked = server.directive(n.mac()).containsKey("kilnChecks");
                if (checksAsked && s.checks() == null) {
                    waiting = "ready on " + to + "; waiting for its check results";
                } else {
                    if (checksAsked) {
                        List<String> bad = checks.failures(n.name(), s.checks());
                        if (!bad.isEmpty()) {
                            throw new StepFailed(n.name() + " failed checks: " + String.join("; ", bad));
                        }
                    }
                    if (seen.add("checks")) {
                        journal.append(
                                EventType.MILESTONE, n.name(), "checks", checksAsked ? "checks passed" : "no checks");
                    }
                    String missing = guard.rejoined(n);
                    if (missing == null) {
                        return "reports " + to + ", kernel " + s.kernel() + ", ready"
                                + (checksAsked ? ", checks passed" : "")
                                + ("master".equals(n.role()) ? ", back in the cluster" : "");
                    }
                    waiting = missing;
                }
            } else if (fresh) {
                waiting = "last report: " + s.step();
            }
            env.sleep(controller.poll());
        }
        throw new StepFailed(n.name() + " was not confirmed on " + to + " within " + plan.nodeTimeoutSeconds() + " s ("
                + waiting + ")");
    }
}
