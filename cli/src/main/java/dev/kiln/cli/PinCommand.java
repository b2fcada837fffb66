package dev.kiln.cli;

import dev.kiln.release.Event;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "pin",
        mixinStandardHelpOptions = true,
        description = {
            "Pins an image version: kiln prune never deletes it (and says why) until",
            "kiln unpin. Recorded in the image's history, like promotions."
        },
        footer = {"", "Example:", "  kiln pin debian-node:1.0.0-20261127.1 --reason 'legal hold: incident 2026-11'"})
final class PinCommand implements Callable<Integer> {
    @Option(names = "--reason", required = true, paramLabel = "TEXT", description = "Why; kiln prune prints it.")
    String reason;

    @Mixin
    VersionEventOptions version;

    @Override
    public Integer call() throws Exception {
        return version.record((releases, image) -> {
            Event e = releases.pin(image, reason);
            System.out.println(
                    "pinned " + image + ": event #" + e.seq() + " by " + e.by() + " at " + e.at() + ": " + e.reason());
        });
    }
}
