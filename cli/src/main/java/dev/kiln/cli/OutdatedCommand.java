package dev.kiln.cli;

import dev.kiln.builder.spec.SpecLoader;
import dev.kiln.builder.update.Outdated;
import dev.kiln.core.json.Json;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "outdated",
        mixinStandardHelpOptions = true,
        description = {
            "Lists newer Debian versions of what a spec pins (kernel, package components, packages:) and of the "
                    + "unpinned packages in its last built image, from the spec's suites and their -security and -updates suites.",
            "The kernel follows its flavour's metapackage (linux-image-cloud-amd64) to the newest ABI package. "
                    + "Versions compare as dpkg does; a lower version is never suggested. URL components are listed as "
                    + "not checkable offline.",
            "Exit status: 0 nothing newer, "
                    + Outdated.UPDATES_EXIT
                    + " updates exist (with --security-only: security "
                    + "updates exist), 1 failure, 2 bad spec."
        },
        footer = {
            "",
            "Examples:",
            "  kiln outdated image-specs/debian-node.yaml",
            "  kiln outdated --security-only --json image-specs/debian-node.yaml > outdated.json",
            "  kiln outdated image-specs/debian-node.yaml; [ $? -eq 10 ] && kiln bump --security-only image-specs/debian-node.yaml"
        })
final class OutdatedCommand implements Callable<Integer> {
    @Parameters(paramLabel = "SPEC", description = "The image spec (YAML).")
    Path spec;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = "--security-only", description = "Only security updates count (listing and exit status).")
    boolean securityOnly;

    @Mixin
    StoreOption store;

    @Override
    public Integer call() throws Exception {
        Outdated.Report report = check(spec, store.open());
        if (json) {
            Json.MAPPER
                    .writer()
                    .writeValue(
                            System.out,
                            securityOnly
                                    ? new Outdated.Report(
                                            report.spec(),
                                            report.image(),
                                            report.manifest(),
                                            report.sources(),
                                            report.securityUpdates(),
                                            report.upToDate(),
                                            report.notChecked())
                                    : report);
            System.out.println();
        } else {
            print(report, securityOnly, System.out);
        }
        return report.exitCode(securityOnly);
    }

    /**
     * Loads the spec, finds its last built image in the store and compares; progress goes to
     * stderr.
     */
    static Outdated.Report check(Path specFile, ImageStore images) throws Exception {
        SpecLoader.Loaded loaded = SpecLoader.load(specFile);
        Manifest last = images.list().stream()
                .filter(m -> m.name().equals(loaded.spec().name()))
                .max(Comparator.comparing(Manifest::builtAt))
                .orElse(null);
        Progress progress = new ConsoleProgress(System.err, System.console() != null);
        List<Outdated.SourceRead> sources = Outdated.sources(loaded.spec());
        try (Progress.Step s = progress.step("read package indexes (" + sources.size() + " sources)")) {
            try {
                return Outdated.check(loaded, last, s::detail);
            } catch (Exception e) {
                s.failed();
                throw e;
            }
        }
    }

    static void print(Outdated.Report r, boolean securityOnly, PrintStream out) {
        List<Outdated.Item> shown = securityOnly ? r.securityUpdates() : r.updates();
        out.println(r.image()
                + " ("
                + r.spec()
                + "): "
                + (shown.isEmpty() ? "nothing newer" : shown.size() + " update" + (shown.size() == 1 ? "" : "s"))
                + (securityOnly
                        ? " (security only)"
                        : ", " + r.securityUpdates().size() + " security"));
        out.println("  sources: "
                + String.join(
                        ", ",
                        r.sources().stream()
                                .map(s -> s.url() + " " + s.suite() + (s.inSpec() ? "" : " (not in the spec)"))
                                .toList()));
        out.println("  installed versions from: " + (r.manifest() == null ? "(no built image)" : r.manifest()));
        if (!shown.isEmpty()) {
            out.printf(
                    "  %-10s %-33s %-24s %-44s %-18s %s%n",
                    "WHAT", "PACKAGE", "CURRENT", "NEWEST", "SUITE", "SECURITY");
            for (Outdated.Item i : shown) {
                out.printf(
                        "  %-10s %-33s %-24s %-44s %-18s %s%n",
                        i.kind(),
                        i.pkg(),
                        i.current(),
                        (i.newPkg().equals(i.pkg()) ? "" : i.newPkg() + " ") + i.newest(),
                        i.suite(),
                        i.security() ? "yes" : "no");
                if (i.via() != null) {
                    out.println("             via " + i.via());
                }
            }
        }
        for (Outdated.Item i : r.upToDate()) {
            out.println("  up to date: "
                    + i.kind()
                    + " "
                    + i.pkg()
                    + " "
                    + i.current()
                    + (i.via() == null ? "" : " (" + i.via() + ")"));
        }
        for (String n : r.notChecked()) {
            out.println("  not checked: " + n);
        }
    }
}
