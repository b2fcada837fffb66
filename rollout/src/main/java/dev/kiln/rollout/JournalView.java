package dev.kiln.rollout;

import java.time.Instant;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * A rollout's journal folded as it is written: the rollout's phase and each node's progress, kept
 * current on every append (so a status is one lookup per node, not a scan of the journal), and the
 * same whether the events were appended by this process or read back after a restart.
 */
final class JournalView {
    /** What a journal event says, and its name in journal.jsonl. */
    enum EventType {
        CREATED("created"),
        BEGIN("begin"),
        END("end"),
        MILESTONE("milestone"),
        NODE_DONE("node-done"),
        NODE_FAILED("node-failed"),
        NODE_SKIPPED("node-skipped"),
        NODE_ROLLED_BACK("node-rolled-back"),
        NODE_RETRIED("node-retried"),
        PAUSED("paused"),
        RESUMED("resumed"),
        RESTARTED("restarted"),
        HALTED("halted"),
        ABORTED("aborted"),
        /** Aborted, and the nodes in progress go back to their previous version. */
        ABORTED_BACK("aborted-back"),
        DONE("done"),
        ROLLED_BACK("rolled-back"),
        /** A pool rollout taking its group back within the same rollout. */
        ROLLBACK("rollback");

        final String wire;

        EventType(String wire) {
            this.wire = wire;
        }

        static EventType of(String wire) {
            for (EventType t : values()) {
                if (t.wire.equals(wire)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("not a journal event type: '" + wire + "'");
        }
    }

    /** A rollout's phase, with the phases it may go to. */
    enum Phase {
        RUNNING("running"),
        PAUSED("paused"),
        HALTED("halted"),
        DONE("done"),
        ABORTED("aborted"),
        ROLLED_BACK("rolled-back");

        final String wire;

        Phase(String wire) {
            this.wire = wire;
        }

        /** Whether an operator or the run may take a rollout from this phase to {@code next}. */
        boolean allows(Phase next) {
            return switch (this) {
                case RUNNING -> next != RUNNING && next != ROLLED_BACK;
                case PAUSED -> next == RUNNING || next == ABORTED || next == HALTED;
                case HALTED -> next == RUNNING || next == ABORTED || next == ROLLED_BACK;
                case DONE, ABORTED -> next == ROLLED_BACK;
                case ROLLED_BACK -> false;
            };
        }

        boolean active() {
            return this == RUNNING || this == PAUSED;
        }
    }

    /** Where a node stands in this rollout. */
    enum NodeState {
        PENDING("pending"),
        IN_PROGRESS("in-progress"),
        DONE("done"),
        FAILED("failed"),
        /** Its drain was blocked; retried at the end. */
        SKIPPED("skipped"),
        ROLLED_BACK("rolled-back"),
        /** Failed after it went down, and retried by a resume: it starts again at the repoint. */
        RETRY_DOWN("retry-down");

        final String wire;

        NodeState(String wire) {
            this.wire = wire;
        }

        /** Nodes a run (or a resume) still has to take to their target. */
        static final Set<NodeState> TO_DO = EnumSet.of(PENDING, IN_PROGRESS, SKIPPED, RETRY_DOWN);
    }

    /**
     * One node: its state, the last step begun (and whether it ended), when, the last detail, and
     * when each step was last begun (a resumed power step asks whether the node booted since).
     */
    record Node(
            NodeState state,
            String step,
            boolean stepEnded,
            Instant stepAt,
            String detail,
            String lastFailure,
            boolean repointed,
            Map<String, Instant> begun,
            int retries) {
        static final Node PENDING = new Node(NodeState.PENDING, null, false, null, null, null, false, Map.of(), 0);

        /** Taken down by the rollout and not (yet) confirmed back: on its way, failed, or to retry. */
        boolean leftDown() {
            return state == NodeState.RETRY_DOWN
                    || Step.wentDownAt(step) && state != NodeState.DONE && state != NodeState.ROLLED_BACK;
        }

        /** When its last power cycle (forward or back) was begun, or null. */
        Instant lastPower() {
            Instant a = begun.get(Step.POWER.wire);
            Instant b = begun.get(Step.ROLLBACK_POWER.wire);
            return a == null ? b : b == null || a.isAfter(b) ? a : b;
        }
    }

    private Phase phase = Phase.RUNNING;
    private String reason;
    private boolean goBack;
    private final Map<String, Node> nodes = new HashMap<>();

    synchronized Phase phase() {
        return phase;
    }

    /** Whether the rollout was aborted with its nodes in progress going back. */
    synchronized boolean goBack() {
        return goBack;
    }

    synchronized String reason() {
        return reason;
    }

    synchronized Node node(String name) {
        return nodes.getOrDefault(name, Node.PENDING);
    }

    /** Folds one event in; the journal calls this for each event it reads back or appends. */
    synchronized void apply(Journal.Event e) {
        EventType type = EventType.of(e.type());
        switch (type) {
            case CREATED, RESUMED, RESTARTED, ROLLBACK -> {
                phase = Phase.RUNNING;
                reason = null;
            }
            case PAUSED -> phase = Phase.PAUSED;
            case HALTED -> setPhase(Phase.HALTED, e.detail());
            case ABORTED -> setPhase(Phase.ABORTED, e.detail());
            case ABORTED_BACK -> {
                setPhase(Phase.ABORTED, e.detail());
                goBack = true;
            }
            case DONE -> setPhase(Phase.DONE, null);
            case ROLLED_BACK -> setPhase(Phase.ROLLED_BACK, e.detail());
            default -> {}
        }
        if (e.node() != null) {
            nodes.put(e.node(), fold(nodes.getOrDefault(e.node(), Node.PENDING), type, e));
        }
    }

    private void setPhase(Phase next, String why) {
        phase = next;
        reason = why;
    }

    private static Node fold(Node n, EventType type, Journal.Event e) {
        return switch (type) {
            case BEGIN -> {
                Instant at = Instant.parse(e.at());
                Map<String, Instant> begun = new HashMap<>(n.begun());
                begun.put(e.step(), at);
                yield new Node(
                        NodeState.IN_PROGRESS,
                        e.step(),
                        false,
                        at,
                        null,
                        n.lastFailure(),
                        n.repointed() || Step.REPOINT.wire.equals(e.step()),
                        Map.copyOf(begun),
                        n.retries());
            }
            case END ->
                new Node(
                        n.state(),
                        n.step(),
                        true,
                        n.stepAt(),
                        e.detail(),
                        n.lastFailure(),
                        n.repointed(),
                        n.begun(),
                        n.retries());
            case NODE_DONE -> with(n, NodeState.DONE, n.detail());
            case NODE_FAILED ->
                new Node(
                        NodeState.FAILED,
                        n.step(),
                        n.stepEnded(),
                        n.stepAt(),
                        e.detail(),
                        e.detail(),
                        n.repointed(),
                        n.begun(),
                        n.retries());
            case NODE_SKIPPED -> with(n, NodeState.SKIPPED, e.detail());
            case NODE_ROLLED_BACK -> with(n, NodeState.ROLLED_BACK, e.detail());
            case NODE_RETRIED -> {
                // Down (failed from the repoint on) and not back: the retry starts at the repoint,
                // not at preflight, which a node that is down cannot pass.
                boolean down = n.state() == NodeState.FAILED && Step.wentDownAt(n.step());
                yield new Node(
                        down ? NodeState.RETRY_DOWN : NodeState.PENDING,
                        null,
                        false,
                        null,
                        e.detail(),
                        n.lastFailure(),
                        n.repointed(),
                        n.begun(),
                        n.retries() + 1);
            }
            default -> n;
        };
    }

    private static Node with(Node n, NodeState state, String detail) {
        return new Node(
                state,
                n.step(),
                n.stepEnded(),
                n.stepAt(),
                detail,
                n.lastFailure(),
                n.repointed(),
                n.begun(),
                n.retries());
    }
}
