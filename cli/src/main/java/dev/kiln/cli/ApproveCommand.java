package dev.kiln.cli;

import dev.kiln.release.Event;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "approve",
        mixinStandardHelpOptions = true,
        description = {
            "Records your approval of an image version for an environment.",
            "An environment with 'approvals: N' takes the version only once N distinct",
            "identities approved it. The identity is the CI user (GITHUB_ACTOR,",
            "GITLAB_USER_LOGIN, BUILD_USER_ID, ...; KILN_ACTOR overrides), else user@host.",
            "Approving twice counts once."
        },
        footer = {"", "Example:", "  kiln approve debian-node:1.0.1 --env prod --reason 'reviewed the diff'"})
final class ApproveCommand implements Callable<Integer> {
    @Option(names = "--env", required = true, paramLabel = "ENV", description = "The environment the approval is for.")
    String env;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why; recorded.")
    String reason;

    @Mixin
    VersionEventOptions version;

    @Override
    public Integer call() throws Exception {
        return version.record((releases, image) -> {
            Event e = releases.approve(version.options.environments(), image, env, reason);
            int count = releases.ledger(image.name())
                    .approvals(image.version(), env)
                    .size();
            System.out.println((e.seq() > 0 && e.at() != null ? "approved " : "")
                    + image
                    + " for "
                    + env
                    + " by "
                    + e.by()
                    + " (event #"
                    + e.seq()
                    + " at "
                    + e.at()
                    + "); "
                    + count
                    + " distinct approval(s) now");
        });
    }
}
