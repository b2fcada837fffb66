package dev.kiln.cli;

import dev.kiln.release.Event;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "unpin",
        mixinStandardHelpOptions = true,
        description = {"Removes the pin of an image version: kiln prune may delete it again."},
        footer = {"", "Example:", "  kiln unpin debian-node:1.0.0-20261127.1 --reason 'hold lifted'"})
final class UnpinCommand implements Callable<Integer> {
    @Option(names = "--reason", paramLabel = "TEXT", description = "Why; recorded.")
    String reason;

    @Mixin
    VersionEventOptions version;

    @Override
    public Integer call() throws Exception {
        return version.record((releases, image) -> {
            Event e = releases.unpin(image, reason);
            System.out.println(
                    e == null
                            ? image + " was not pinned"
                            : "unpinned " + image + ": event #" + e.seq() + " by " + e.by());
        });
    }
}
