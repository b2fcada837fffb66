package dev.kiln.cli;

import dev.kiln.core.store.ImageRef;
import dev.kiln.release.Event;
import dev.kiln.release.Releases;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "unpin", mixinStandardHelpOptions = true,
        description = {"Removes the pin of an image version: kiln prune may delete it again."},
        footer = {"", "Example:", "  kiln unpin debian-node:1.0.0-20261127.1 --reason 'hold lifted'"})
final class UnpinCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why; recorded.")
    String reason;

    @Mixin
    ReleaseOptions options;

    @Override
    public Integer call() throws Exception {
        ImageRef image = ImageRef.parse(ref);
        try (Releases releases = options.open()) {
            Event e = releases.unpin(image, reason);
            System.out.println(e == null ? image + " was not pinned" : "unpinned " + image + ": event #" + e.seq() + " by " + e.by());
            return 0;
        }
    }
}
