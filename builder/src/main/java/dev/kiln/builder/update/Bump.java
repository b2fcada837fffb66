package dev.kiln.builder.update;

import dev.kiln.builder.apt.DebianVersion;
import dev.kiln.builder.spec.ImageSpec;
import dev.kiln.builder.spec.SpecException;
import dev.kiln.builder.spec.SpecLoader;
import java.io.IOException;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code kiln bump}: the spec text with the chosen updates pinned, a new version, and the update
 * suites the new versions come from added to {@code base.repositories}. Only the text at the edited
 * nodes changes (see {@link SpecEditor}).
 */
public final class Bump {
    private Bump() {}

    /**
     * Which updates: the kernel only, or every pin and installed package; optionally only security
     * updates.
     */
    public record Selection(boolean kernelOnly, boolean securityOnly) {
        boolean wants(Outdated.Item i) {
            return (!kernelOnly || i.kind().equals("kernel")) && (!securityOnly || i.security());
        }
    }

    /** The bumped text, what changed, and the repositories added. */
    public record Result(
            String text,
            String oldVersion,
            String newVersion,
            List<Outdated.Item> applied,
            List<String> addedRepositories) {
        public boolean changed() {
            return !applied.isEmpty();
        }
    }

    /**
     * Applies the selected updates of {@code report} to the loaded spec. {@code version} (may be
     * null) overrides the next version ({@link NextVersion}). Returns an unchanged result when
     * nothing is selected.
     */
    public static Result apply(
            SpecLoader.Loaded loaded, Outdated.Report report, Selection selection, String version, LocalDate today)
            throws IOException, SpecException {
        ImageSpec spec = loaded.spec();
        List<Outdated.Item> applied =
                report.updates().stream().filter(selection::wants).toList();
        if (applied.isEmpty()) {
            return new Result(loaded.text(), spec.version(), spec.version(), List.of(), List.of());
        }
        SpecEditor edit = new SpecEditor(loaded.text());
        for (Outdated.Item i : applied) {
            switch (i.kind()) {
                case "kernel" -> {
                    if (!i.newPkg().equals(i.pkg())) {
                        edit.set("kernel.package", i.newPkg());
                    }
                    edit.set("kernel.version", i.newest());
                }
                case "component" -> {
                    ImageSpec.Component c = spec.components().get(i.name());
                    if (c.packageVersion() != null) {
                        edit.set(i.field() + ".packageVersion", i.newest());
                        // version is the upstream version the package carries; it moves with it.
                        if (c.version().equals(upstream(c.packageVersion()))
                                && !upstream(i.newest()).equals(c.version())) {
                            edit.set(i.field() + ".version", upstream(i.newest()));
                        }
                    } else {
                        edit.set(i.field() + ".version", i.newest());
                    }
                }
                case "package" -> edit.set(i.field(), i.pkg() + "=" + i.newest());
                default -> {} // an unpinned package: the next build takes it once its suite is a
                // source
            }
        }
        // A new version from a suite the build does not read would not install: add that suite.
        Set<String> added = new LinkedHashSet<>();
        for (Outdated.Item i : applied) {
            Outdated.SourceRead s = report.sourceOf(i);
            if (!s.inSpec() && added.add(s.url() + " " + s.suite())) {
                String components = s.components().equals(List.of("main"))
                        ? ""
                        : ", components: [" + String.join(", ", s.components()) + "]";
                edit.append(
                        "base.repositories",
                        "{url: " + s.url() + ", suite: " + s.suite() + components + "}",
                        "added by kiln bump: " + (s.security() ? "security updates" : "updates") + " come from here");
            }
        }
        String next = version != null ? version : NextVersion.after(spec, today);
        if (next.equals(spec.version())) {
            throw new IllegalArgumentException("the new version must differ from the current one (" + next + ")");
        }
        edit.set("version", next);
        String text = edit.result();
        verify(loaded, text, applied, next);
        return new Result(text, spec.version(), next, applied, List.copyOf(added));
    }

    /**
     * 1.6.20 for 1.6.20~ds1-1+deb12u3: no epoch, no Debian revision, no repack suffix (~ds1,
     * +dfsg).
     */
    static String upstream(String debianVersion) {
        return DebianVersion.parse(debianVersion).upstream().replaceAll("[~+](ds|dfsg)\\d*$", "");
    }

    /** The edited text must load and say exactly what was meant: refuse to write anything else. */
    private static void verify(SpecLoader.Loaded loaded, String text, List<Outdated.Item> applied, String version)
            throws SpecException {
        ImageSpec after = SpecLoader.parse(loaded.file(), text).spec();
        List<String> wrong = new ArrayList<>();
        if (!after.version().equals(version)) {
            wrong.add("version is " + after.version());
        }
        for (Outdated.Item i : applied) {
            switch (i.kind()) {
                case "kernel" -> {
                    if (!after.kernel().packageName().equals(i.newPkg())
                            || !after.kernel().version().equals(i.newest())) {
                        wrong.add("kernel is "
                                + after.kernel().packageName()
                                + " "
                                + after.kernel().version());
                    }
                }
                case "component" -> {
                    String got = after.components().get(i.name()).debianVersion();
                    if (!got.equals(i.newest())) {
                        wrong.add(i.field() + " is " + got);
                    }
                }
                case "package" -> {
                    int index = Integer.parseInt(i.field().replaceAll("\\D", ""));
                    ImageSpec.PackagePin p = after.packages().get(index);
                    if (!i.newest().equals(p.version())) {
                        wrong.add(i.field() + " is " + p.text());
                    }
                }
                default -> {}
            }
        }
        if (!wrong.isEmpty()) {
            throw new IllegalStateException("kiln bump produced a spec that does not say what it meant ("
                    + String.join("; ", wrong)
                    + "); nothing was written");
        }
    }

    /** For reports: what each applied update changes, one line each. */
    public static List<String> describe(Result r) {
        List<String> lines = new ArrayList<>();
        for (Outdated.Item i : r.applied()) {
            lines.add(i.kind()
                    + " "
                    + (i.kind().equals("component") ? i.name() + " (" + i.pkg() + ")" : i.pkg())
                    + " "
                    + i.current()
                    + " -> "
                    + (i.newPkg().equals(i.pkg()) ? "" : i.newPkg() + " ")
                    + i.newest()
                    + " ("
                    + i.suite()
                    + (i.security() ? ", security" : "")
                    + ")");
        }
        lines.add("version " + r.oldVersion() + " -> " + r.newVersion());
        return lines;
    }
}
