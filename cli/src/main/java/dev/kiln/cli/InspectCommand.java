package dev.kiln.cli;

import dev.kiln.builder.store.ImageStore;
import java.nio.file.Files;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Prints an image's manifest (packages, kernel, components, artifacts with sha256).",
        footer = {"", "Example:", "  kiln inspect debian-node:1.0.0-20261127.1"})
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Mixin
    StoreOption store;

    @Override
    public Integer call() throws Exception {
        System.out.println(Files.readString(store.versionDir(ref).resolve(ImageStore.MANIFEST)));
        return 0;
    }
}
