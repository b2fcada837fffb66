package dev.kiln.fleet;

/**
 * One row of GET /nodes (and of {@code kiln nodes}): where a node is meant to be and what it last
 * said. Absent values are null: a node that never reported has no step, kernel or age.
 *
 * @param role master or worker, as in the inventory
 * @param bootstrapRole init-master, join-master or join-worker, as in its metadata
 * @param assignedImage NAME:VERSION the inventory assigns (what its channel resolved to, if it
 *     names one)
 * @param channel NAME@ENV when the inventory names a channel, else null
 * @param reportedImage NAME:VERSION the node last reported running (from its /etc/kiln/image.json)
 * @param ageSeconds seconds since the server received the last step
 * @param currentImage NAME:VERSION kiln serve hands it now (moved only by a rollout); null before
 *     its first boot. Differs from desiredImage: the node is drifted
 * @param desiredImage NAME:VERSION it should run: assignedImage, or the version a rollout with --to
 *     set over it (until the inventory's own version for it changes)
 * @param desiredSetBy the rollout that set desiredImage; null when it is the inventory's
 */
public record NodeView(
        String mac,
        String cluster,
        String name,
        String role,
        String bootstrapRole,
        String address,
        String assignedImage,
        String channel,
        String reportedImage,
        String kernel,
        String step,
        String detail,
        String reportedAt,
        Long ageSeconds,
        String currentImage,
        String desiredImage,
        String desiredSetBy) {
    /** It should run another version than it boots: a rollout would replace it. */
    public boolean drifted() {
        return currentImage != null && !currentImage.equals(desiredImage != null ? desiredImage : assignedImage);
    }
}
