package dev.kiln.cli;

import dev.kiln.release.Event;
import dev.kiln.release.Releases;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "revoke",
        mixinStandardHelpOptions = true,
        description = {
            "Revokes an image version: it is never promoted again, and kiln serve",
            "refuses to boot nodes with it (the refusal says it was revoked and why;",
            "a running kiln serve picks it up within 10 s). kiln channels flags every",
            "environment still pointing at it: promote another version or roll back."
        },
        footer = {"", "Example:", "  kiln revoke debian-node:1.0.1 --reason 'CVE-2026-1234 in containerd'"})
final class RevokeCommand implements Callable<Integer> {
    @Option(
            names = "--reason",
            required = true,
            paramLabel = "TEXT",
            description = "Why; recorded, and shown to refused nodes.")
    String reason;

    @Mixin
    VersionEventOptions version;

    @Override
    public Integer call() throws Exception {
        return version.record((releases, image) -> {
            Event e = releases.revoke(image, reason);
            System.out.println(
                    "revoked " + image + ": event #" + e.seq() + " by " + e.by() + " at " + e.at() + ": " + e.reason());
            for (Releases.Channel c : releases.channels(image.name(), null)) {
                if (c.current() != null && c.current().version().equals(image.version())) {
                    System.out.println("  WARNING: "
                            + c.env()
                            + " still points at it: promote another version or kiln promote "
                            + image.name()
                            + " --rollback "
                            + c.env());
                }
            }
        });
    }
}
