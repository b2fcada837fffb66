package dev.kiln.rollout;

import java.util.List;

/**
 * The steps of one node in a rollout, as data: forward (preflight, drain, repoint, power, confirm)
 * and back to its previous version after a failure. Their wire names are what the journal
 * records; from the repoint on, a node counts as taken down.
 */
enum Step {
    PREFLIGHT("preflight", false),
    DRAIN("drain", false),
    REPOINT("repoint", true),
    POWER("power", true),
    CONFIRM("confirm", true),
    ROLLBACK_DRAIN("rollback-drain", true),
    ROLLBACK_REPOINT("rollback-repoint", true),
    ROLLBACK_POWER("rollback-power", true),
    ROLLBACK_CONFIRM("rollback-confirm", true);

    static final List<Step> FORWARD = List.of(PREFLIGHT, DRAIN, REPOINT, POWER, CONFIRM);
    /** Back after a failure: a master is drained (out of etcd) again before it goes back. */
    static final List<Step> BACK = List.of(ROLLBACK_DRAIN, ROLLBACK_REPOINT, ROLLBACK_POWER, ROLLBACK_CONFIRM);

    final String wire;
    /** Whether a node that began this step may be down. */
    final boolean down;

    Step(String wire, boolean down) {
        this.wire = wire;
        this.down = down;
    }

    /** The step of this journal name, or null (a pool rollout's steps, a milestone). */
    static Step of(String wire) {
        for (Step s : values()) {
            if (s.wire.equals(wire)) {
                return s;
            }
        }
        return null;
    }

    boolean back() {
        return BACK.contains(this);
    }

    /** Whether a node at the journal step {@code wire} had been taken down. */
    static boolean wentDownAt(String wire) {
        Step s = of(wire);
        return s != null && s.down;
    }
}
