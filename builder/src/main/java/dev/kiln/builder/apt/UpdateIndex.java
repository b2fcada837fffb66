package dev.kiln.builder.apt;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every version of every package in a set of apt sources, with the source it is in and its
 * dependencies: what {@code kiln outdated} compares a spec's pins with. Reads the mirror through
 * {@link AptIndex} (same fetching, same Packages parsing); this class adds what the version check
 * alone does not need: per-source origin, security flag, apt's NotAutomatic rule, Depends.
 */
public final class UpdateIndex {
    /**
     * A kernel image package: linux-image-ABI-FLAVOUR, e.g. linux-image-6.1.0-50-cloud-amd64 (ABI
     * 6.1.0-50).
     */
    private static final Pattern KERNEL = Pattern.compile("linux-image-(\\d[^-]*(?:-\\d+)?)-([a-z][a-z0-9-]*)");

    /**
     * One source as read: {@code security} when it is a security suite (suite *-security or a
     * Release Label saying Security); {@code notAutomatic} when its Release says NotAutomatic: yes
     * (backports, experimental), so apt takes nothing from it unless the package already comes from
     * there.
     */
    public record Origin(AptIndex.Source source, boolean security, boolean notAutomatic, boolean butAutomaticUpgrades) {
        /** "URL SUITE", how reports name the origin. */
        public String describe() {
            return source.url() + " " + source.suite();
        }
    }

    /** One version of a package in one origin. */
    public record Candidate(String pkg, DebianVersion version, Origin origin, String depends) {}

    /**
     * What a pinned package could move to. {@code security}: a newer version than the pin is in a
     * security suite.
     */
    public record Newest(String pkg, DebianVersion version, Origin origin, boolean security) {}

    private final List<Origin> origins;
    private final Map<String, List<Candidate>> byPackage;

    private UpdateIndex(List<Origin> origins, Map<String, List<Candidate>> byPackage) {
        this.origins = List.copyOf(origins);
        this.byPackage = byPackage;
    }

    /** Reads every source (Release + Packages), calling {@code reading} before each. */
    public static UpdateIndex read(List<AptIndex.Source> sources, String arch, Consumer<AptIndex.Source> reading)
            throws IOException {
        List<Origin> origins = new ArrayList<>();
        Map<String, List<Candidate>> byPackage = new HashMap<>();
        for (AptIndex.Source s : sources) {
            reading.accept(s);
            AptIndex.Fetched f = AptIndex.fetch(s, arch);
            Origin origin = origin(s, f.release());
            origins.add(origin);
            for (byte[] packages : f.packages()) {
                add(origin, packages, byPackage);
            }
        }
        return new UpdateIndex(origins, byPackage);
    }

    static Origin origin(AptIndex.Source s, byte[] release) throws IOException {
        Map<String, String> fields = new HashMap<>();
        AptIndex.stanzas(
                release, Set.of("Label", "Suite", "Codename", "NotAutomatic", "ButAutomaticUpgrades"), fields::putAll);
        boolean security = s.suite().endsWith("-security")
                || s.suite().endsWith("/updates")
                || fields.getOrDefault("Label", "")
                        .toLowerCase(java.util.Locale.ROOT)
                        .contains("security");
        return new Origin(
                s,
                security,
                "yes".equalsIgnoreCase(fields.get("NotAutomatic")),
                "yes".equalsIgnoreCase(fields.get("ButAutomaticUpgrades")));
    }

    private static void add(Origin origin, byte[] packages, Map<String, List<Candidate>> into) throws IOException {
        AptIndex.stanzas(packages, Set.of("Package", "Version", "Depends"), f -> {
            String pkg = f.get("Package");
            String version = f.get("Version");
            if (pkg == null || version == null) {
                return;
            }
            DebianVersion v;
            try {
                v = DebianVersion.parse(version);
            } catch (IllegalArgumentException malformed) {
                return; // apt would not install it either
            }
            into.computeIfAbsent(pkg, k -> new ArrayList<>()).add(new Candidate(pkg, v, origin, f.get("Depends")));
        });
    }

    public List<Origin> origins() {
        return origins;
    }

    public List<Candidate> candidates(String pkg) {
        return byPackage.getOrDefault(pkg, List.of());
    }

    public boolean hasPackage(String pkg) {
        return byPackage.containsKey(pkg);
    }

    /**
     * The newest version of {@code pkg} that apt would upgrade {@code current} to, or empty when
     * none is newer: a lower version in another suite (the security suite can hold an older version
     * than a point release) is never suggested. A NotAutomatic origin (backports) counts only when
     * {@code current} comes from it and it allows automatic upgrades, as in apt.
     */
    public Optional<Newest> newest(String pkg, String current) {
        DebianVersion cur = DebianVersion.parse(current);
        List<Candidate> all = candidates(pkg);
        Set<Origin> currentFrom = new java.util.HashSet<>();
        for (Candidate c : all) {
            if (c.version().equals(cur)) {
                currentFrom.add(c.origin());
            }
        }
        Candidate best = null;
        boolean security = false;
        for (Candidate c : all) {
            if (!eligible(c.origin(), currentFrom) || !c.version().isNewerThan(cur)) {
                continue;
            }
            security |= c.origin().security();
            // Among equal versions prefer the security origin: it is where the fix was published.
            if (best == null
                    || c.version().isNewerThan(best.version())
                    || (c.version().equals(best.version())
                            && c.origin().security()
                            && !best.origin().security())) {
                best = c;
            }
        }
        return best == null ? Optional.empty() : Optional.of(new Newest(pkg, best.version(), best.origin(), security));
    }

    /** The newest version of an unpinned package, wherever it is (a package not yet installed). */
    public Optional<Candidate> newestAnywhere(String pkg) {
        Candidate best = null;
        for (Candidate c : candidates(pkg)) {
            if (!c.origin().notAutomatic() && (best == null || c.version().isNewerThan(best.version()))) {
                best = c;
            }
        }
        return Optional.ofNullable(best);
    }

    private static boolean eligible(Origin o, Set<Origin> currentFrom) {
        return !o.notAutomatic() || (o.butAutomaticUpgrades() && currentFrom.contains(o));
    }

    /**
     * Where a kernel's flavour metapackage leads: the metapackage version and the ABI package it
     * depends on.
     */
    public record KernelWalk(
            String metapackage, DebianVersion metaVersion, Origin metaOrigin, String target, Newest newest) {}

    /**
     * linux-image-cloud-amd64 for linux-image-6.1.0-50-cloud-amd64; empty for a name that is not
     * linux-image-ABI-FLAVOUR.
     */
    public static Optional<String> kernelMetapackage(String kernelPackage) {
        Matcher m = KERNEL.matcher(kernelPackage);
        return m.matches() ? Optional.of("linux-image-" + m.group(2)) : Optional.empty();
    }

    /**
     * Follows the kernel's flavour metapackage to the ABI package it depends on (a kernel update
     * changes the package name) and returns that package's newest version when it is newer than the
     * pinned kernel. Empty when the name has no flavour, the metapackage is not in these sources,
     * or nothing newer exists.
     */
    public Optional<KernelWalk> kernel(String kernelPackage, String currentVersion) {
        Optional<String> meta = kernelMetapackage(kernelPackage);
        if (meta.isEmpty()) {
            return Optional.empty();
        }
        DebianVersion cur = DebianVersion.parse(currentVersion);
        // The metapackage is not pinned: take its newest version from the origins apt would use
        // for this kernel (a backports kernel follows backports, a stable kernel does not).
        Set<Origin> kernelFrom = new java.util.HashSet<>();
        for (Candidate c : candidates(kernelPackage)) {
            if (c.version().equals(cur)) {
                kernelFrom.add(c.origin());
            }
        }
        String flavour = meta.get().substring("linux-image-".length());
        Candidate bestMeta = null;
        String bestTarget = null;
        for (Candidate c : candidates(meta.get())) {
            String target = kernelDependency(c.depends(), flavour);
            if (target == null || !eligible(c.origin(), kernelFrom)) {
                continue;
            }
            if (bestMeta == null || c.version().isNewerThan(bestMeta.version())) {
                bestMeta = c;
                bestTarget = target;
            }
        }
        if (bestMeta == null) {
            return Optional.empty();
        }
        // The target's newest version, compared with the pinned kernel's version across package
        // names.
        Newest best = null;
        boolean security = false;
        for (Candidate c : candidates(bestTarget)) {
            if (!c.version().isNewerThan(cur) || !eligible(c.origin(), kernelFrom)) {
                continue;
            }
            security |= c.origin().security();
            if (best == null
                    || c.version().isNewerThan(best.version())
                    || (c.version().equals(best.version())
                            && c.origin().security()
                            && !best.origin().security())) {
                best = new Newest(bestTarget, c.version(), c.origin(), false);
            }
        }
        if (best == null) {
            return Optional.empty();
        }
        return Optional.of(new KernelWalk(
                meta.get(),
                bestMeta.version(),
                bestMeta.origin(),
                bestTarget,
                new Newest(best.pkg(), best.version(), best.origin(), security)));
    }

    /** The first dependency that is a linux-image-ABI-FLAVOUR package of this flavour. */
    static String kernelDependency(String depends, String flavour) {
        if (depends == null) {
            return null;
        }
        for (String clause : depends.split(",")) {
            for (String alternative : clause.split("\\|")) {
                String name = alternative.trim().split("[\\s(:]", 2)[0];
                Matcher m = KERNEL.matcher(name);
                if (m.matches() && m.group(2).equals(flavour)) {
                    return name;
                }
            }
        }
        return null;
    }
}
