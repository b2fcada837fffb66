package dev.kiln.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** kiln: bake versioned, immutable node images and roll fleets onto them by replacement. */
@Command(
        name = "kiln",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Bakes versioned, immutable golden images for Kubernetes nodes.",
        subcommands = {
            BuildCommand.class,
            ImagesCommand.class,
            InspectCommand.class,
            DiffCommand.class,
            BootCommand.class,
            PublishCommand.class,
            ServeCommand.class,
            NodesCommand.class,
            RolloutCommand.class,
            ValidateCommand.class,
            OutdatedCommand.class,
            BumpCommand.class,
            PromoteCommand.class,
            ApproveCommand.class,
            ChannelsCommand.class,
            HistoryCommand.class,
            RevokeCommand.class,
            SignCommand.class,
            VerifyCommand.class,
            KeygenCommand.class,
            RebuildCheckCommand.class,
            PruneCommand.class,
            PinCommand.class,
            UnpinCommand.class,
            BmcCommand.class,
            LabCommand.class,
            CommandLine.HelpCommand.class
        },
        footer = {
            "",
            "Example:",
            "  kiln build image-specs/debian-node.yaml",
            "  kiln images",
            "  kiln diff debian-node:1.0.0-20261127.1 debian-node:1.0.0-20261128.1",
            "  kiln outdated image-specs/debian-node.yaml; kiln bump --kernel image-specs/debian-node.yaml",
            "  kiln serve --inventory inventory.yaml --public-url http://10.0.2.2:8080",
            "  kiln promote debian-node:1.0.0-20261127.1 --to staging"
        })
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String... args) {
        return HelpText.joinParagraphs(new CommandLine(new Main()))
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("kiln: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
                    if (System.getenv("KILN_DEBUG") != null) {
                        e.printStackTrace(cmd.getErr());
                    }
                    return e instanceof dev.kiln.builder.spec.SpecException
                                    || e instanceof dev.kiln.fleet.InventoryException
                                    || e instanceof dev.kiln.release.EnvironmentsException
                            ? 2
                            : 1;
                })
                .execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"kiln " + dev.kiln.builder.build.ImageBuilder.KILN_VERSION};
        }
    }
}
