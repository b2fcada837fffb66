package dev.kiln.builder.update;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.kiln.builder.apt.AptIndex;
import dev.kiln.builder.apt.DebianVersion;
import dev.kiln.builder.apt.UpdateIndex;
import dev.kiln.builder.build.PackagePlan;
import dev.kiln.builder.spec.ImageSpec;
import dev.kiln.builder.spec.SpecLoader;
import dev.kiln.core.store.Manifest;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * {@code kiln outdated}: the spec's pins (kernel, Debian-package components, {@code packages:}) and
 * the unpinned packages of its last built image, against the newest versions in the spec's own
 * suites plus its update suites (by default SUITE-security and SUITE-updates).
 */
public final class Outdated {
    /**
     * Exit status of {@code kiln outdated} when something is newer (0: nothing; 1: failure; 2: bad
     * spec).
     */
    public static final int UPDATES_EXIT = 10;

    private Outdated() {}

    /**
     * What is checked and where it lives in the spec ({@code field} is null for unpinned packages).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Item(
            String kind,
            String name,
            String field,
            String pkg,
            String current,
            String newPkg,
            String newest,
            String suite,
            String url,
            boolean security,
            String via) {
        public boolean isUpdate() {
            return newest != null;
        }
    }

    /** A source read, and whether the spec's build already uses it. */
    public record SourceRead(String url, String suite, List<String> components, boolean security, boolean inSpec) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Report(
            String spec,
            String image,
            String manifest,
            List<SourceRead> sources,
            List<Item> updates,
            List<Item> upToDate,
            List<String> notChecked) {
        public List<Item> securityUpdates() {
            return updates.stream().filter(Item::security).toList();
        }

        /**
         * 0 when nothing (nothing security-related, with {@code securityOnly}) is newer, else
         * {@link #UPDATES_EXIT}.
         */
        public int exitCode(boolean securityOnly) {
            return (securityOnly ? securityUpdates() : updates).isEmpty() ? 0 : UPDATES_EXIT;
        }

        public SourceRead sourceOf(Item i) {
            return sources.stream()
                    .filter(s -> s.url().equals(i.url()) && s.suite().equals(i.suite()))
                    .findFirst()
                    .orElseThrow();
        }
    }

    /**
     * The sources to read: the spec's own (the live mirror, even when a snapshot is pinned: the
     * question is what exists now) and its update suites.
     */
    public static List<SourceRead> sources(ImageSpec spec) {
        ImageSpec.Base b = spec.base();
        List<SourceRead> out = new ArrayList<>();
        for (AptIndex.Source s : PackagePlan.of(spec).sources()) {
            boolean base = out.isEmpty();
            out.add(new SourceRead(base ? b.mirror() : s.url(), s.suite(), s.components(), false, true));
        }
        List<ImageSpec.Repository> updates = b.updates() != null ? b.updates() : defaultUpdates(b);
        for (ImageSpec.Repository r : updates) {
            if (out.stream().noneMatch(s -> same(s.url(), r.url()) && s.suite().equals(r.suite()))) {
                out.add(new SourceRead(r.url(), r.suite(), r.components(), false, false));
            }
        }
        return out;
    }

    /**
     * SUITE-security (from the mirror's "-security" sibling when the mirror ends in /debian, as
     * deb.debian.org and most mirrors lay it out; else deb.debian.org/debian-security) and
     * SUITE-updates from the mirror. Suites without those (sid, unstable) get none.
     */
    static List<ImageSpec.Repository> defaultUpdates(ImageSpec.Base b) {
        if (Set.of("sid", "unstable", "experimental", "rc-buggy").contains(b.suite())) {
            return List.of();
        }
        String mirror = b.mirror().replaceAll("/+$", "");
        String security = mirror.endsWith("/debian") ? mirror + "-security" : "http://deb.debian.org/debian-security";
        return List.of(
                new ImageSpec.Repository(security, b.suite() + "-security", b.components(), null),
                new ImageSpec.Repository(b.mirror(), b.suite() + "-updates", b.components(), null));
    }

    static boolean same(String a, String b) {
        return a.replaceAll("/+$", "").equals(b.replaceAll("/+$", ""));
    }

    /**
     * Reads the sources and compares. {@code lastBuilt} (may be null) adds the image's unpinned
     * packages.
     */
    public static Report check(SpecLoader.Loaded loaded, Manifest lastBuilt, Consumer<String> reading)
            throws IOException {
        ImageSpec spec = loaded.spec();
        List<SourceRead> sources = sources(spec);
        int[] current = {-1};
        UpdateIndex index;
        try {
            index = UpdateIndex.read(
                    sources.stream()
                            .map(s -> new AptIndex.Source(s.url(), s.suite(), s.components()))
                            .toList(),
                    "amd64",
                    s -> {
                        current[0]++;
                        reading.accept(s.url() + " " + s.suite());
                    });
        } catch (IOException e) {
            if (current[0] >= 0 && !sources.get(current[0]).inSpec()) {
                throw new IOException(
                        "update suite "
                                + sources.get(current[0]).suite()
                                + ": "
                                + e.getMessage()
                                + "; base.updates lists the suites to read for updates ([] for none)",
                        e);
            }
            throw e;
        }
        // The index knows better whether a source is a security suite (its Release Label).
        List<SourceRead> read = new ArrayList<>();
        for (int i = 0; i < sources.size(); i++) {
            SourceRead s = sources.get(i);
            read.add(new SourceRead(
                    s.url(), s.suite(), s.components(), index.origins().get(i).security(), s.inSpec()));
        }
        return compare(loaded, lastBuilt, index, read);
    }

    static Report compare(SpecLoader.Loaded loaded, Manifest lastBuilt, UpdateIndex index, List<SourceRead> sources) {
        ImageSpec spec = loaded.spec();
        List<Item> updates = new ArrayList<>();
        List<Item> upToDate = new ArrayList<>();
        List<String> notChecked = new ArrayList<>();
        Set<String> pinned = new LinkedHashSet<>();

        ImageSpec.Kernel k = spec.kernel();
        pinned.add(k.packageName());
        Optional<UpdateIndex.KernelWalk> walk = index.kernel(k.packageName(), k.version());
        Optional<UpdateIndex.Newest> same = index.newest(k.packageName(), k.version());
        if (walk.isPresent()
                && (same.isEmpty()
                        || !same.get().version().isNewerThan(walk.get().newest().version()))) {
            UpdateIndex.KernelWalk w = walk.get();
            updates.add(item(
                    "kernel",
                    "kernel",
                    "kernel",
                    k.packageName(),
                    k.version(),
                    w.newest(),
                    w.metapackage()
                            + " "
                            + w.metaVersion()
                            + " ("
                            + w.metaOrigin().source().suite()
                            + ")"));
        } else if (same.isPresent()) {
            updates.add(item("kernel", "kernel", "kernel", k.packageName(), k.version(), same.get(), null));
        } else {
            upToDate.add(current("kernel", "kernel", "kernel", k.packageName(), k.version(), index));
        }

        for (Map.Entry<String, ImageSpec.Component> e : spec.components().entrySet()) {
            ImageSpec.Component c = e.getValue();
            String field = "components." + e.getKey();
            if (!c.isPackage()) {
                notChecked.add(e.getKey()
                        + " "
                        + c.version()
                        + ": a URL component ("
                        + c.url()
                        + "); kiln cannot check upstream releases offline");
                continue;
            }
            pinned.add(c.packageName());
            check(index, "component", e.getKey(), field, c.packageName(), c.debianVersion(), updates, upToDate);
        }
        for (int i = 0; i < spec.packages().size(); i++) {
            ImageSpec.PackagePin p = spec.packages().get(i);
            if (p.version() != null) {
                pinned.add(p.name());
                check(index, "package", p.name(), "packages[" + i + "]", p.name(), p.version(), updates, upToDate);
            }
        }
        if (lastBuilt == null) {
            notChecked.add("unpinned packages: no built image of "
                    + spec.name()
                    + " in the store to read their installed versions from (build one, or pass --store)");
        } else {
            lastBuilt.packages().forEach((pkg, version) -> {
                if (!pinned.contains(pkg)) {
                    index.newest(pkg, version)
                            .ifPresent(n -> updates.add(item("installed", pkg, null, pkg, version, n, null)));
                }
            });
        }
        return new Report(
                loaded.file().toString(),
                spec.ref(),
                lastBuilt == null ? null : lastBuilt.ref(),
                sources,
                updates,
                upToDate,
                notChecked);
    }

    private static void check(
            UpdateIndex index,
            String kind,
            String name,
            String field,
            String pkg,
            String version,
            List<Item> updates,
            List<Item> upToDate) {
        Optional<UpdateIndex.Newest> n = index.newest(pkg, version);
        if (n.isPresent()) {
            updates.add(item(kind, name, field, pkg, version, n.get(), null));
        } else {
            upToDate.add(current(kind, name, field, pkg, version, index));
        }
    }

    private static Item item(
            String kind, String name, String field, String pkg, String current, UpdateIndex.Newest n, String via) {
        return new Item(
                kind,
                name,
                field,
                pkg,
                current,
                n.pkg(),
                n.version().toString(),
                n.origin().source().suite(),
                n.origin().source().url(),
                n.security(),
                via);
    }

    /**
     * An up-to-date pin; {@code via} says what else the sources hold when it is only older (never a
     * downgrade).
     */
    private static Item current(String kind, String name, String field, String pkg, String version, UpdateIndex index) {
        DebianVersion cur = DebianVersion.parse(version);
        List<String> older = index.candidates(pkg).stream()
                .filter(c -> cur.isNewerThan(c.version()))
                .map(c -> c.origin().source().suite() + " " + c.version())
                .distinct()
                .toList();
        return new Item(
                kind,
                name,
                field,
                pkg,
                version,
                null,
                null,
                null,
                null,
                false,
                older.isEmpty() ? null : "older only: " + String.join(", ", older));
    }
}
