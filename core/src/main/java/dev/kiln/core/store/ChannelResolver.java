package dev.kiln.core.store;

import java.io.IOException;
import java.util.Collection;
import java.util.Map;

/**
 * Read-only view of promotion channels and revocations, for kiln serve: it resolves NAME@ENV in the
 * inventory and refuses revoked versions. The release module implements it over the same store the
 * images come from; the cli plugs it in, as it does {@link ImageSource}, so kiln serve depends on
 * neither release nor AWS.
 */
public interface ChannelResolver {
    /**
     * Where environments point and which versions are revoked, for these images, read now. An
     * IOException means the records could not be read, not that there are none.
     */
    State read(Collection<String> imageNames) throws IOException;

    /** Where channels are kept, for messages ("no channel prod of debian-node in ..."). */
    String describe();

    /** What an environment points at: the version, since when and who moved it there. */
    record Assignment(ImageRef version, String since, String by) {}

    /**
     * @param revoked version to why it was revoked (who, when, reason)
     */
    record State(Map<ChannelRef, Assignment> channels, Map<ImageRef, String> revoked) {
        public static final State EMPTY = new State(Map.of(), Map.of());

        /** What the channel points at now, or null if it points at no version. */
        public Assignment resolve(ChannelRef channel) {
            return channels.get(channel);
        }

        /** Why the version was revoked, or null if it is not. */
        public String revoked(ImageRef ref) {
            return revoked.get(ref);
        }
    }

    /** No promotion records: every channel is empty, nothing is revoked. */
    ChannelResolver NONE = new ChannelResolver() {
        @Override
        public State read(Collection<String> imageNames) {
            return State.EMPTY;
        }

        @Override
        public String describe() {
            return "no promotion records (kiln serve was started without them)";
        }
    };
}
