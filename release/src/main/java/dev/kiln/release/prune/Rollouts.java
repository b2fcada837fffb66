package dev.kiln.release.prune;

import dev.kiln.core.store.ImageRef;
import java.io.IOException;
import java.util.Map;

/**
 * The versions that rollouts in progress move nodes from or to: kiln prune never deletes those.
 *
 * <p>{@link ServerRollouts} asks kiln serve, whose rollout engine holds them; {@link #NONE} is for
 * a prune without --server, which says that it checked no rollouts.
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
            return "no rollouts checked: without --server, kiln prune cannot see kiln serve's rollouts";
        }
    };
}
