package dev.kiln.rollout;

import dev.kiln.core.store.ImageRef;
import java.io.IOException;

/**
 * How the nodes of one cluster are replaced: the one part of a rollout that differs between bare
 * metal (network boot once, then a power cycle through the BMC) and EC2 (terminate the instance,
 * launch a new one from the target AMI). Everything around it (plan, budget, drain, etcd safety,
 * confirmation through the node's own phone-home, halt, rollback, journal) is the controller's.
 *
 * <p>When {@link #replace} is called, kiln serve already hands the node {@code target} (re-pointed)
 * and the boot's directive (join as a member, the reimage marker, the checks) is in place.
 */
public interface NodeReplacer extends AutoCloseable {
    /**
     * One node of a rollout, as the replacer needs it.
     *
     * @param mac the node's identity in kiln serve (its token is derived from it)
     * @param artifact what the target is on this kind of machine when it is not the image itself
     *     (EC2: the concrete AMI id resolved at plan time), else null
     */
    record Node(
            String cluster,
            String name,
            String mac,
            String role,
            String address,
            ImageRef from,
            ImageRef to,
            String artifact) {}

    /**
     * Why {@code node} cannot be replaced now (BMC unreachable or refusing the credential, AMI not
     * in the region, missing permission, ...), or null. Read-only: probes, never acts.
     */
    String blocker(Node node) throws InterruptedException;

    /**
     * Boots {@code node} fresh on {@code node.to()} (or the target artifact). Returns what the
     * journal should record of it (an instance id, "power cycled through ipmi at ..."). Throws when
     * the machine refused; the controller then halts.
     */
    String replace(Node node) throws IOException, InterruptedException;

    /**
     * After a crash of kiln serve between "replace intended" and "replace done": whether the
     * replacement already happened (EC2: an instance tagged with the node and target version
     * exists), so it is never done twice. Bare metal cannot tell from the BMC and answers null
     * (unknown): the controller then looks at what the node reported since the intent.
     */
    default Boolean alreadyReplaced(Node node) throws IOException, InterruptedException {
        return null;
    }

    /** What replacing means on this kind of machine, for the plan's step lines. */
    default String describe() {
        return "replace the machine";
    }

    @Override
    default void close() {}
}
