package dev.kiln.cli;

import dev.kiln.builder.build.ImageBuilder;
import dev.kiln.builder.build.PackageLayer;
import dev.kiln.builder.spec.RenderedFile;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "build",
        mixinStandardHelpOptions = true,
        description = {
            "Builds a versioned image from a YAML spec into the image store.",
            "Static mistakes fail before any download; pinned versions are checked against the "
                    + "mirror's index before the root filesystem is built. A version, once built, is immutable."
        },
        footer = {
            "",
            "Examples:",
            "  kiln build image-specs/debian-node.yaml",
            "  kiln build --dry-run image-specs/k8s-node.yaml",
            "  kiln build --store /srv/kiln/images image-specs/debian-node.yaml"
        })
final class BuildCommand implements Callable<Integer> {
    @Parameters(paramLabel = "SPEC", description = "The image spec (YAML).")
    Path spec;

    @Mixin
    StoreOption store;

    @Option(
            names = "--dry-run",
            description =
                    "Check the spec, render every file and check the package index; download, install and write nothing.")
    boolean dryRun;

    @Option(
            names = "--cache",
            paramLabel = "DIR",
            description = "Cache for package layers and downloads (default: $KILN_CACHE or ~/.cache/kiln).")
    Path cache;

    @Override
    public Integer call() throws Exception {
        ConsoleProgress progress = new ConsoleProgress(System.out, System.console() != null);
        ImageStore images = store.open();
        ImageBuilder builder =
                new ImageBuilder(images, cache != null ? cache : PackageLayer.defaultCacheDir(), progress);
        if (dryRun) {
            ImageBuilder.Plan plan = builder.plan(spec);
            System.out.println("dry run: "
                    + plan.loaded().spec().ref()
                    + " would be built into "
                    + images.root()
                    + (images.exists(dev.kiln.core.store.ImageRef.parse(
                                    plan.loaded().spec().ref()))
                            ? " (REFUSED: that version already exists)"
                            : ""));
            System.out.println("  packages: " + String.join(" ", plan.packages().aptArguments()));
            plan.loaded()
                    .spec()
                    .components()
                    .forEach((n, c) -> System.out.println("  component "
                            + n
                            + " "
                            + c.version()
                            + (c.isPackage()
                                    ? " (debian " + c.packageName() + "=" + c.debianVersion() + ")"
                                    : " (" + c.url() + ")")));
            for (RenderedFile f : plan.files()) {
                System.out.println(
                        "  file " + f.path() + (f.hasPlaceholders() ? "  placeholders " + f.placeholders() : ""));
            }
            System.out.println("  outputs: " + plan.loaded().spec().outputs());
            return 0;
        }
        // Ctrl-C cancels the build: its tools are stopped and its staging directory removed.
        Thread hook = builder.cancelOnShutdown(Thread.currentThread());
        Path dir;
        try {
            dir = builder.build(spec);
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already exiting because of the signal; the hook is running
            }
        }
        Manifest m = images.manifest(
                dev.kiln.core.store.ImageRef.parse(dir.getParent().getFileName() + ":" + dir.getFileName()));
        System.out.printf("built %s in %.1fs -> %s%n", m.ref(), m.buildSeconds(), dir);
        System.out.printf(
                "  kernel %s (%s %s)%n",
                m.kernel().release(), m.kernel().packageName(), m.kernel().version());
        m.components()
                .forEach((n, c) -> System.out.printf(
                        "  %s %s%n", n, c.packageVersion() != null ? c.packageVersion() : c.version()));
        m.artifacts()
                .forEach((p, a) -> System.out.printf(
                        "  %-22s %10s  sha256:%s%n",
                        p, Format.size(a.size()), a.sha256().substring(0, 16)));
        return 0;
    }
}
