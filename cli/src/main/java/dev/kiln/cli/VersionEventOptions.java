package dev.kiln.cli;

import dev.kiln.core.store.ImageRef;
import dev.kiln.release.Releases;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * What the commands that record one event about one version share (kiln pin, unpin, revoke,
 * approve): the NAME:VERSION, the release options, and opening the records around the event. Each
 * command keeps its own --reason: whether it is required, and what it is for, differ.
 */
final class VersionEventOptions {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Mixin
    ReleaseOptions options;

    interface Body {
        void run(Releases releases, ImageRef image) throws Exception;
    }

    /** Parses NAME:VERSION, opens the records, runs the body and closes them; exit status 0. */
    int record(Body body) throws Exception {
        ImageRef image = ImageRef.parse(ref);
        try (Releases releases = options.open()) {
            body.run(releases, image);
            return 0;
        }
    }
}
