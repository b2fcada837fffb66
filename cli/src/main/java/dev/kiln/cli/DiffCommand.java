package dev.kiln.cli;

import dev.kiln.core.store.ImageDiff;
import dev.kiln.core.store.ImageRef;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "diff",
        mixinStandardHelpOptions = true,
        description = {
            "Shows what changes between two image versions: kernel, components, packages and files.",
            "Read it before promoting a kernel update."
        },
        footer = {"", "Example:", "  kiln diff debian-node:1.0.0-20261127.1 debian-node:1.0.0-20261204.1"})
final class DiffCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FROM")
    String from;

    @Parameters(index = "1", paramLabel = "TO")
    String to;

    @Option(
            names = "--files",
            paramLabel = "N",
            defaultValue = "50",
            description = "Changed paths to list at most (default: ${DEFAULT-VALUE}).")
    int maxFiles;

    @Mixin
    StoreOption store;

    @Override
    public Integer call() throws Exception {
        ImageDiff diff = ImageDiff.between(store.open(), ImageRef.parse(from), ImageRef.parse(to));
        System.out.print(diff.render(maxFiles));
        return 0;
    }
}
