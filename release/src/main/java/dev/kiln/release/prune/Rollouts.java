package dev.kiln.release.prune;

import dev.kiln.core.store.ImageRef;
import java.io.IOException;
import java.util.Map;

/**
 * The versions that rollouts in progress move nodes from or to: kiln prune never deletes those.
 *
 * <p>kiln has no rollouts yet, so the only implementation is {@link #NONE}. This is the seam for
 * them: a rollout engine implements it (from, to and every version its batches still name) and the
 * cli hands it to {@link Pruner}; until then prune says that it checked no rollouts.
 */
public interface Rollouts {
    /**
     * version → why (rollout id, cluster, its state), for every version a running rollout
     * references.
     */
    Map<ImageRef, String> referenced() throws IOException;

    /** For the report: where rollouts were looked up. */
    String describe();

    Rollouts NONE = new Rollouts() {
        @Override
        public Map<ImageRef, String> referenced() {
            return Map.of();
        }

        @Override
        public String describe() {
            return "no rollouts: kiln has no rollout engine yet";
        }
    };
}
