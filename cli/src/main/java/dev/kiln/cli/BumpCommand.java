package dev.kiln.cli;

import dev.kiln.builder.spec.SpecLoader;
import dev.kiln.builder.update.Bump;
import dev.kiln.builder.update.Outdated;
import dev.kiln.builder.update.UnifiedDiff;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "bump",
        mixinStandardHelpOptions = true,
        description = {
            "Pins the newer versions kiln outdated finds, in place: comments, order and layout of the spec stay "
                    + "as they are; only the edited values change. Sets a new version and adds the -security/-updates suite "
                    + "to base.repositories when an update comes from it. Prints a diff of the spec.",
            "New version, in the spec's scheme: X.Y.Z-YYYYMMDD.N -> next patch, today, build 1 (X.Y.Z stays when it is "
                    + "a component's version, as k8s-node's kubelet version); X.Y.Z -> next patch; YYYYMMDD.N -> today. "
                    + "--version overrides.",
            "Exit status: 0 (also when nothing is newer: the spec is left alone), 1 failure, 2 bad spec."
        },
        footer = {
            "",
            "Examples:",
            "  kiln bump --kernel image-specs/debian-node.yaml",
            "  kiln bump --security-only image-specs/debian-node.yaml",
            "  kiln bump --all --version 1.1.0-20261201.1 --dry-run image-specs/debian-node.yaml"
        })
final class BumpCommand implements Callable<Integer> {
    @Parameters(paramLabel = "SPEC", description = "The image spec (YAML); rewritten in place.")
    Path spec;

    @Option(names = "--kernel", description = "Only the kernel.")
    boolean kernel;

    @Option(names = "--all", description = "Every pin, and the unpinned packages of the last built image.")
    boolean all;

    @Option(
            names = "--security-only",
            description = "Only updates from a security suite (with --kernel: only a security kernel).")
    boolean securityOnly;

    @Option(
            names = "--version",
            paramLabel = "V",
            description = "The new version (default: the next one in the spec's scheme).")
    String version;

    @Option(names = "--dry-run", description = "Print the diff; write nothing.")
    boolean dryRun;

    @Mixin
    StoreOption store;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec commandSpec;

    @Override
    public Integer call() throws Exception {
        if (!kernel && !all && !securityOnly) {
            throw new picocli.CommandLine.ParameterException(
                    commandSpec.commandLine(), "say what to bump: --kernel, --security-only or --all");
        }
        if (kernel && all) {
            throw new picocli.CommandLine.ParameterException(
                    commandSpec.commandLine(), "--kernel and --all exclude each other (--all includes the kernel)");
        }
        Outdated.Report report = OutdatedCommand.check(spec, store.open());
        SpecLoader.Loaded loaded = SpecLoader.load(spec);
        Bump.Result r = Bump.apply(
                loaded, report, new Bump.Selection(kernel, securityOnly), version, LocalDate.now(ZoneOffset.UTC));
        if (!r.changed()) {
            System.out.println("nothing to bump in "
                    + spec
                    + ": "
                    + (kernel ? "the kernel is" : "the pins are")
                    + " the newest"
                    + (securityOnly ? " security" : "")
                    + " versions; the spec is unchanged");
            return 0;
        }
        for (String line : Bump.describe(r)) {
            System.out.println(line);
        }
        for (String repo : r.addedRepositories()) {
            System.out.println("base.repositories += " + repo);
        }
        String snapshot = loaded.spec().base().snapshot();
        if (snapshot != null
                && r.applied().stream().anyMatch(i -> report.sourceOf(i).inSpec())) {
            // outdated read the live mirror; the build reads the snapshot, which predates these
            // versions.
            System.out.println("note: base.snapshot pins the mirror to "
                    + snapshot
                    + "; move it past the new versions'"
                    + " publication, or kiln build will not find them");
        }
        System.out.print(UnifiedDiff.of(
                loaded.text(), r.text(), spec + " (" + r.oldVersion() + ")", spec + " (" + r.newVersion() + ")"));
        if (dryRun) {
            System.out.println("dry run: " + spec + " not written");
            return 0;
        }
        // Written next to the spec and renamed over it: a crash leaves the old or the new spec,
        // never half.
        Path tmp = Files.createTempFile(spec.toAbsolutePath().getParent(), "." + spec.getFileName(), ".kiln-bump");
        try {
            Files.writeString(tmp, r.text());
            Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(spec));
            Files.move(tmp, spec, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        System.out.println("bumped " + spec + ": " + r.oldVersion() + " -> " + r.newVersion());
        return 0;
    }
}
