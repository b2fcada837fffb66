package dev.kiln.cli;

import dev.kiln.builder.repro.RebuildCheck;
import dev.kiln.core.store.ImageRef;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "rebuild-check",
        mixinStandardHelpOptions = true,
        description = "Builds a stored version again from the spec and mirror state its manifest records, into a "
                + "scratch store with a fresh package cache, and compares every artifact with the stored one. "
                + "Prints 'identical', or the artifacts that differ and what differs in the first (diffoscope when "
                + "installed, else the contents listing). Refuses at once when the spec, a rendered file or the "
                + "mirror has changed since the build (pin base.snapshot to keep a version rebuildable). Exit 0 "
                + "only when identical.",
        footer = {
            "",
            "Examples:",
            "  kiln rebuild-check debian-node:1.0.0-20261127.1",
            "  kiln rebuild-check debian-node:1.0.0-20261127.1 --spec image-specs/debian-node.yaml --keep"
        })
final class RebuildCheckCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Mixin
    StoreOption store;

    @Option(
            names = "--spec",
            paramLabel = "FILE",
            description = "The spec it was built from (default: the path its manifest records; its sha256 must match).")
    Path spec;

    @Option(
            names = "--cache",
            paramLabel = "DIR",
            description =
                    "Package cache for the rebuild (default: a fresh one, so the package layer is made again too).")
    Path cache;

    @Option(names = "--keep", description = "Keep the scratch store (under STORE/.rebuild-check/) for a closer look.")
    boolean keep;

    @Override
    public Integer call() throws Exception {
        ConsoleProgress progress = new ConsoleProgress(System.out, System.console() != null);
        RebuildCheck.Result r = RebuildCheck.run(
                store.open(), ImageRef.parse(ref), new RebuildCheck.Options(spec, cache, null, keep), progress);
        if (r.identical()) {
            System.out.println(
                    "identical: " + ref + " rebuilt bit for bit (" + r.artifacts() + " artifacts, same sha256)");
        } else {
            System.out.println("DIFFERENT: "
                    + r.differences().size()
                    + " of "
                    + r.artifacts()
                    + " artifacts of "
                    + ref
                    + " differ when rebuilt:");
            r.differences().forEach(d -> System.out.println("  " + d.render()));
            System.out.println("first difference, " + r.differences().get(0).artifact() + ":");
            System.out.println(r.detail());
        }
        if (r.kept() != null) {
            System.out.println("scratch store kept: " + r.kept());
        }
        return r.identical() ? 0 : 1;
    }
}
