package dev.kiln.cli;

import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Published;
import dev.kiln.core.store.ValidationRecord;
import java.nio.file.Files;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        description =
                "Prints an image's manifest (packages, kernel, components, artifacts with sha256), then where it is "
                        + "published and how its validations went.",
        footer = {"", "Example:", "  kiln inspect debian-node:1.0.0-20261127.1"})
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Mixin
    StoreOption store;

    @Override
    public Integer call() throws Exception {
        java.nio.file.Path dir = store.versionDir(ref);
        System.out.println(Files.readString(dir.resolve(ImageStore.MANIFEST)));
        // Where the version is published (kiln publish records it next to the immutable manifest).
        Published published = Published.read(dir);
        if (published != null && !published.describe().isEmpty()) {
            System.out.println("published:");
            published.describe().forEach(line -> System.out.println("  " + line));
        }
        ValidationRecord validation = ValidationRecord.read(dir);
        if (validation != null && !validation.runs().isEmpty()) {
            System.out.println(
                    "validation runs (kiln validate; reports in " + dir.resolve(ValidationRecord.REPORTS) + "):");
            for (ValidationRecord.Run r : validation.runs()) {
                System.out.printf(
                        "  %s %-9s %-9s %d master(s) + %d worker(s), %.0f s, started %s, report sha256 %s%n",
                        r.runId(),
                        r.result(),
                        r.provider(),
                        r.masters(),
                        r.workers(),
                        r.seconds(),
                        r.startedAt(),
                        r.reportSha256().substring(0, 12));
            }
        }
        return 0;
    }
}
