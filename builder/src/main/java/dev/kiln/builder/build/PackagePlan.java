package dev.kiln.builder.build;

import dev.kiln.builder.apt.AptIndex;
import dev.kiln.builder.spec.ImageSpec;
import dev.kiln.builder.spec.SpecException;
import dev.kiln.core.yaml.YamlErrors;
import dev.kiln.core.yaml.YamlProblem;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which Debian packages go into the package layer, from which sources, at which versions. Pinned
 * versions are checked against the mirror's index before anything is built.
 */
public final class PackagePlan {
    /**
     * Packages every kiln image needs whatever the spec says: systemd as init, initramfs-tools and
     * busybox for the network-root initrd, curl and jq for the node agent, zstd for initramfs
     * compression, fdisk (sfdisk) and e2fsprogs (resize2fs) for kiln-grow-root.
     */
    public static final List<String> ALWAYS = List.of(
            "systemd-sysv",
            "udev",
            "kmod",
            "initramfs-tools",
            "busybox",
            "curl",
            "jq",
            "ca-certificates",
            "iproute2",
            "zstd",
            "fdisk",
            "e2fsprogs");

    private final List<AptIndex.Source> sources;

    /**
     * apt argument ("name" or "name=version") keyed by package name, with the spec field it came
     * from.
     */
    private final Map<String, Pin> pins;

    public record Pin(String name, String version, String field) {
        public String aptArgument() {
            return version == null ? name : name + "=" + version;
        }
    }

    private PackagePlan(List<AptIndex.Source> sources, Map<String, Pin> pins) {
        this.sources = sources;
        this.pins = pins;
    }

    public static PackagePlan of(ImageSpec spec) {
        ImageSpec.Base b = spec.base();
        List<AptIndex.Source> sources = new ArrayList<>();
        sources.add(new AptIndex.Source(b.effectiveMirror(), b.suite(), b.components()));
        for (ImageSpec.Repository r : b.repositories()) {
            sources.add(new AptIndex.Source(r.url(), r.suite(), r.components()));
        }
        Map<String, Pin> pins = new LinkedHashMap<>();
        for (String p : ALWAYS) {
            pins.put(p, new Pin(p, null, null));
        }
        pins.put(
                spec.kernel().packageName(),
                new Pin(spec.kernel().packageName(), spec.kernel().version(), "kernel.version"));
        spec.components().forEach((name, c) -> {
            if (c.isPackage()) {
                pins.put(
                        c.packageName(),
                        new Pin(
                                c.packageName(),
                                c.debianVersion(),
                                "components." + name + (c.packageVersion() != null ? ".packageVersion" : ".version")));
                if (c.repository() != null) {
                    AptIndex.Source s = new AptIndex.Source(
                            c.repository().url(),
                            c.repository().suite(),
                            c.repository().components());
                    if (!sources.contains(s)) {
                        sources.add(s);
                    }
                }
            }
        });
        for (int i = 0; i < spec.storage().size(); i++) {
            // kiln-storage formats with mkfs.xfs; ext4's mkfs comes with e2fsprogs (ALWAYS).
            if ("xfs".equals(spec.storage().get(i).filesystem())) {
                pins.putIfAbsent("xfsprogs", new Pin("xfsprogs", null, "storage[" + i + "].filesystem"));
            }
        }
        for (int i = 0; i < spec.packages().size(); i++) {
            ImageSpec.PackagePin p = spec.packages().get(i);
            pins.put(p.name(), new Pin(p.name(), p.version(), "packages[" + i + "]"));
        }
        return new PackagePlan(List.copyOf(sources), pins);
    }

    public List<AptIndex.Source> sources() {
        return sources;
    }

    public List<Pin> pins() {
        return List.copyOf(pins.values());
    }

    /** Sorted apt arguments: the package set part of the layer's cache key. */
    public List<String> aptArguments() {
        return pins.values().stream().map(Pin::aptArgument).sorted().toList();
    }

    /** Fails with every pinned package or version the mirror lacks, naming what it does have. */
    public void verify(AptIndex index, YamlErrors.Located at) throws SpecException {
        List<YamlProblem> problems = new ArrayList<>();
        for (Pin p : pins.values()) {
            String field = p.field() == null ? "base" : p.field();
            if (!index.hasPackage(p.name())) {
                problems.add(at.at(
                        field,
                        "package '"
                                + p.name()
                                + "' is not in "
                                + describeSources()
                                + (p.field() == null ? " (kiln needs it in every image)" : "")));
            } else if (p.version() != null && !index.has(p.name(), p.version())) {
                problems.add(at.at(
                        field,
                        "version "
                                + p.version()
                                + " of '"
                                + p.name()
                                + "' is not in "
                                + describeSources()
                                + "; the mirror has "
                                + String.join(", ", index.versionsOf(p.name()))));
            }
        }
        if (!problems.isEmpty()) {
            throw new SpecException(problems);
        }
    }

    private String describeSources() {
        return sources.stream()
                .map(s -> s.url() + " " + s.suite())
                .reduce((a, b) -> a + " + " + b)
                .orElse("");
    }
}
