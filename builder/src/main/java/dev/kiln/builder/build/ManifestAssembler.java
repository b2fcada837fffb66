package dev.kiln.builder.build;

import dev.kiln.builder.apt.AptIndex;
import dev.kiln.builder.spec.ImageSpec;
import dev.kiln.builder.spec.RenderedFile;
import dev.kiln.builder.spec.StorageSpec;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Why: assembling the manifest record (components, files, images, artifact hashes, base, kernel,
 * reproducibility) is its own concern, apart from the build steps {@link ImageBuilder} runs.
 */
final class ManifestAssembler {
    private ManifestAssembler() {}

    static Manifest assemble(
            ImageBuilder.Plan plan,
            Map<String, String> installed,
            String kernelRelease,
            String builtAt,
            double seconds,
            ArtifactHashes hashes,
            Map<String, Path> downloads)
            throws IOException {
        ImageSpec spec = plan.loaded().spec();
        Map<String, Manifest.Component> components = new TreeMap<>();
        spec.components()
                .forEach((name, c) -> components.put(
                        name,
                        c.isPackage()
                                ? new Manifest.Component(
                                        c.version(),
                                        "debian",
                                        c.packageName(),
                                        installed.get(c.packageName()),
                                        null,
                                        null)
                                : new Manifest.Component(c.version(), "url", null, null, c.url(), c.sha256())));
        List<Manifest.FileRecord> files = new ArrayList<>();
        for (RenderedFile f : plan.files()) {
            files.add(new Manifest.FileRecord(
                    f.path(),
                    Hashing.sha256(f.content()),
                    String.format("%04o", f.mode()),
                    f.owner(),
                    f.placeholders().isEmpty() ? null : List.copyOf(f.placeholders())));
        }
        List<Manifest.ImageRecord> images = new ArrayList<>();
        for (int i = 0; i < spec.images().size(); i++) {
            Path p = downloads.get("images[" + i + "]");
            images.add(new Manifest.ImageRecord(spec.images().get(i).name(), Hashing.sha256(p), Files.size(p)));
        }
        Map<String, Manifest.Artifact> artifacts = hashes.all();
        ImageSpec.Base b = spec.base();
        Map<String, Object> validation = new LinkedHashMap<>();
        validation.put("node", spec.validation().node());
        validation.put("cluster", spec.validation().cluster());
        return new Manifest(
                Manifest.SCHEMA,
                spec.name(),
                spec.version(),
                spec.description(),
                plan.loaded().sha256(),
                builtAt,
                seconds,
                ImageBuilder.KILN_VERSION,
                new Manifest.Base(
                        b.distribution(),
                        b.suite(),
                        b.effectiveMirror(),
                        b.snapshot(),
                        plan.packages().sources().stream()
                                .map(AptIndex.Source::debLine)
                                .toList(),
                        plan.mirrorState()),
                new Manifest.Kernel(
                        spec.kernel().packageName(),
                        installed.get(spec.kernel().packageName()),
                        kernelRelease,
                        spec.kernel().cmdline()),
                components,
                installed,
                files,
                spec.placeholders(),
                images,
                spec.outputs(),
                artifacts,
                validation,
                new Manifest.Reproducible(
                        plan.sourceDate().epoch(),
                        plan.sourceDate().iso(),
                        plan.sourceDate().from(),
                        plan.loaded().file().toAbsolutePath().normalize().toString()),
                spec.storage().isEmpty() ? null : StorageSpec.normalized(spec.storage()));
    }
}
