package dev.kiln.rollout;

import java.util.ArrayList;
import java.util.List;

/**
 * Which of a batch's waiting nodes start now, decided from what is observed and acting on nothing
 * (the run does the starting): the budget is the cluster's nodes that may be down at once, counting
 * nodes already down outside the rollout and those it is replacing.
 *
 * <ul>
 *   <li>A node that was serving takes one unit of budget while it is replaced.
 *   <li>A node never booted (brought up) was not serving: it takes none.
 *   <li>A node this rollout already took down (resumed after a restart, retried after a failure)
 *       starts whatever the budget: it is down either way, and its unit is already counted.
 * </ul>
 */
final class Admission {
    private Admission() {}

    /**
     * @param serving whether the node ran a version before this rollout
     * @param alreadyDown whether this rollout already took it down
     */
    record Candidate(Plan.Node node, boolean serving, boolean alreadyDown) {}

    /**
     * The candidates to start now, in their order.
     *
     * @param replacing serving nodes being replaced now (already started, not yet confirmed)
     * @param downOutside nodes of the cluster not ready and not part of this batch's work
     */
    static List<Plan.Node> admit(List<Candidate> waiting, long replacing, int downOutside, int budget) {
        long slots = budget - downOutside - replacing;
        List<Plan.Node> start = new ArrayList<>();
        for (Candidate c : waiting) {
            if (c.serving() && slots <= 0 && !c.alreadyDown()) {
                continue;
            }
            start.add(c.node());
            if (c.serving()) {
                slots--;
            }
        }
        return start;
    }
}
