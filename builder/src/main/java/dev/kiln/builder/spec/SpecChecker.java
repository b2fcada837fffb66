package dev.kiln.builder.spec;

import dev.kiln.builder.spec.ImageSpec.Component;
import dev.kiln.builder.spec.ImageSpec.FileEntry;
import dev.kiln.builder.spec.ImageSpec.PreloadImage;
import dev.kiln.builder.template.TemplateRenderer;
import dev.kiln.builder.template.TemplateRenderer.RenderException;
import dev.kiln.core.json.Json;
import dev.kiln.core.node.Placeholders;
import dev.kiln.core.yaml.YamlErrors;
import dev.kiln.core.yaml.YamlProblem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The static checks: everything that can be known wrong without the network, in well under a
 * second, before any download. Collects every problem instead of stopping at the first.
 */
public final class SpecChecker {
    static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    static final Pattern VERSION = Pattern.compile("[0-9A-Za-z][0-9A-Za-z.+_~-]{0,127}");
    static final Pattern DEBIAN_VERSION = Pattern.compile("([0-9]+:)?[0-9][A-Za-z0-9.+~-]*");
    static final Pattern DEBIAN_PACKAGE = Pattern.compile("[a-z0-9][a-z0-9.+-]+");
    static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    static final Pattern MODE = Pattern.compile("0?[0-7]{3,4}");
    static final Pattern OWNER = Pattern.compile("[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*");
    static final Pattern UNIT = Pattern.compile("[A-Za-z0-9@._-]+\\.(service|socket|timer|target|path|mount)");
    static final Pattern SNAPSHOT = Pattern.compile("[0-9]{8}T[0-9]{6}Z");
    static final Set<String> NODE_CHECKS =
            Set.of("kernel-version", "units-active", "container-runs", "image-identity", "hygiene");
    static final Set<String> CLUSTER_CHECKS =
            Set.of("etcd-members", "etcd-healthy", "k8s-nodes-ready", "k8s-smoke-pod");

    private final SpecLoader.Loaded loaded;
    private final ImageSpec spec;
    private final YamlErrors.Located at;
    private final List<YamlProblem> problems = new ArrayList<>();

    private SpecChecker(SpecLoader.Loaded loaded) {
        this.loaded = loaded;
        this.spec = loaded.spec();
        this.at = loaded.problems();
    }

    /** Checks the spec and renders its files; throws with every problem found. */
    public static List<RenderedFile> check(SpecLoader.Loaded loaded) throws SpecException, IOException {
        SpecChecker c = new SpecChecker(loaded);
        c.identity();
        c.base();
        c.kernel();
        c.components();
        c.packages();
        c.units();
        c.images();
        c.outputs();
        c.validation();
        StorageSpec.check(c.spec.storage(), c::problem);
        List<RenderedFile> files = c.files();
        if (!c.problems.isEmpty()) {
            throw new SpecException(c.problems);
        }
        return files;
    }

    /**
     * The template directory of a spec: its {@code templates} field, else ../templates beside it.
     */
    public static Path templateDir(SpecLoader.Loaded loaded) {
        String t = loaded.spec().templates();
        return loaded.baseDir().resolve(t == null ? "../templates" : t).normalize();
    }

    /** What templates see: the spec itself, as the YAML names it. */
    public static Map<String, Object> templateModel(ImageSpec spec) {
        @SuppressWarnings("unchecked")
        Map<String, Object> asMap = Json.MAPPER.convertValue(spec, Map.class);
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("spec", asMap);
        model.put("image", Map.of("name", spec.name(), "version", spec.version()));
        model.put("kernel", asMap.get("kernel"));
        model.put("components", asMap.get("components"));
        model.put("vars", asMap.get("variables"));
        return model;
    }

    private void problem(String field, String message) {
        problems.add(at.at(field, message));
    }

    private void identity() {
        if (!NAME.matcher(spec.name()).matches()) {
            problem(
                    "name",
                    "expected lower-case letters, digits and '-' (like debian-node), got '" + spec.name() + "'");
        }
        if (!VERSION.matcher(spec.version()).matches()) {
            problem(
                    "version",
                    "expected a version like 1.34.2-20261127.1 (letters, digits, . + _ ~ -), got '"
                            + spec.version()
                            + "'");
        }
    }

    private void base() {
        ImageSpec.Base b = spec.base();
        if (!b.distribution().equals("debian")) {
            problem(
                    "base.distribution",
                    "expected 'debian' (the only distribution kiln builds today), got '" + b.distribution() + "'");
        }
        if (!b.mirror().matches("https?://.+")) {
            problem("base.mirror", "expected an http(s) URL of a Debian mirror, got '" + b.mirror() + "'");
        }
        if (b.snapshot() != null && !SNAPSHOT.matcher(b.snapshot()).matches()) {
            problem(
                    "base.snapshot",
                    "expected a snapshot.debian.org timestamp like 20250520T000000Z, got '" + b.snapshot() + "'");
        }
        if (!Set.of("minbase", "essential", "apt", "required", "important", "standard")
                .contains(b.variant())) {
            problem(
                    "base.variant",
                    "expected an mmdebstrap variant (minbase, essential, apt, required, important, standard), got '"
                            + b.variant()
                            + "'");
        }
        for (int i = 0; i < b.repositories().size(); i++) {
            repository("base.repositories[" + i + "]", b.repositories().get(i));
        }
        for (int i = 0; b.updates() != null && i < b.updates().size(); i++) {
            repository("base.updates[" + i + "]", b.updates().get(i));
        }
    }

    private void repository(String field, ImageSpec.Repository r) {
        if (!r.url().matches("https?://.+")) {
            problem(field + ".url", "expected an http(s) URL of an apt repository, got '" + r.url() + "'");
        }
        if (r.key() != null
                && !r.key().matches("https?://.+")
                && !Files.isRegularFile(loaded.baseDir().resolve(r.key()))) {
            problem(
                    field + ".key",
                    "signing key file not found: "
                            + loaded.baseDir().resolve(r.key()).normalize());
        }
    }

    private void kernel() {
        ImageSpec.Kernel k = spec.kernel();
        if (!k.packageName().startsWith("linux-image-")
                || !DEBIAN_PACKAGE.matcher(k.packageName()).matches()) {
            problem(
                    "kernel.package",
                    "expected a Debian kernel package like linux-image-6.1.0-56-cloud-amd64, got '"
                            + k.packageName()
                            + "'");
        }
        debianVersion("kernel.version", k.version());
    }

    private void debianVersion(String field, String v) {
        if (v == null || !DEBIAN_VERSION.matcher(v).matches()) {
            problem(field, "expected an exact Debian package version like 6.1.192-2, got '" + v + "'");
        }
    }

    private void components() {
        for (Map.Entry<String, Component> e : spec.components().entrySet()) {
            String f = "components." + e.getKey();
            Component c = e.getValue();
            if (c.isPackage() == (c.url() != null)) {
                problem(
                        f,
                        "expected exactly one source: 'package' (a Debian package) or 'url' + 'sha256' (a download)");
                continue;
            }
            if (c.isPackage()) {
                if (!DEBIAN_PACKAGE.matcher(c.packageName()).matches()) {
                    problem(f + ".package", "expected a Debian package name, got '" + c.packageName() + "'");
                }
                debianVersion(f + (c.packageVersion() != null ? ".packageVersion" : ".version"), c.debianVersion());
                if (c.repository() != null) {
                    repository(f + ".repository", c.repository());
                }
                if (c.sha256() != null || c.install() != null || c.extract() != null) {
                    problem(f, "sha256, install and extract belong to 'url' downloads, not to packages");
                }
            } else {
                if (!c.url().matches("https?://.+")) {
                    problem(f + ".url", "expected an http(s) URL, got '" + c.url() + "'");
                }
                if (c.sha256() == null || !SHA256.matcher(c.sha256()).matches()) {
                    problem(f + ".sha256", "expected the 64 hex digit sha256 the upstream publishes for " + c.url());
                }
                if ((c.install() == null) == (c.extract() == null)) {
                    problem(
                            f,
                            "expected exactly one of 'install' (a binary's absolute path) or 'extract' (a directory to unpack a .tar.gz into)");
                } else {
                    String target = c.install() != null ? c.install() : c.extract();
                    if (!target.startsWith("/") || target.contains("..")) {
                        problem(
                                f + (c.install() != null ? ".install" : ".extract"),
                                "expected an absolute path inside the image, got '" + target + "'");
                    }
                }
                if (c.mode() != null && !MODE.matcher(c.mode()).matches()) {
                    problem(f + ".mode", "expected an octal mode like \"0755\", got '" + c.mode() + "'");
                }
            }
        }
    }

    private void packages() {
        for (int i = 0; i < spec.packages().size(); i++) {
            ImageSpec.PackagePin p = spec.packages().get(i);
            if (!DEBIAN_PACKAGE.matcher(p.name()).matches()) {
                problem(
                        "packages[" + i + "]",
                        "expected a Debian package name or name=version, got '" + p.text() + "'");
            }
            if (p.version() != null) {
                debianVersion("packages[" + i + "]", p.version());
            }
        }
    }

    private void units() {
        List<String> enable = spec.units().enable();
        for (int i = 0; i < enable.size(); i++) {
            if (!UNIT.matcher(enable.get(i)).matches()) {
                problem(
                        "units.enable[" + i + "]",
                        "expected a systemd unit name like containerd.service, got '" + enable.get(i) + "'");
            }
        }
        List<String> disable = spec.units().disable();
        for (int i = 0; i < disable.size(); i++) {
            if (!UNIT.matcher(disable.get(i)).matches()) {
                problem(
                        "units.disable[" + i + "]",
                        "expected a systemd unit name like ssh.service, got '" + disable.get(i) + "'");
            }
        }
    }

    private void images() {
        Set<String> names = new HashSet<>();
        for (int i = 0; i < spec.images().size(); i++) {
            PreloadImage img = spec.images().get(i);
            String f = "images[" + i + "]";
            if (!names.add(img.name())) {
                problem(f + ".name", "duplicate image name '" + img.name() + "'");
            }
            int sources = (img.archive() != null ? 1 : 0) + (img.url() != null ? 1 : 0) + (img.ref() != null ? 1 : 0);
            if (sources != 1) {
                problem(
                        f,
                        "expected exactly one source: 'archive' (an OCI archive file), 'url' + 'sha256', or 'ref' (a registry reference)");
            } else if (img.archive() != null
                    && !Files.isRegularFile(loaded.baseDir().resolve(img.archive()))) {
                problem(
                        f + ".archive",
                        "OCI archive not found: "
                                + loaded.baseDir().resolve(img.archive()).normalize());
            } else if (img.url() != null
                    && (img.sha256() == null || !SHA256.matcher(img.sha256()).matches())) {
                problem(f + ".sha256", "expected the 64 hex digit sha256 of the archive at " + img.url());
            }
        }
    }

    private void outputs() {
        if (spec.outputs().isEmpty()) {
            problem("outputs", "expected at least one of " + ImageSpec.KNOWN_OUTPUTS);
        }
        for (int i = 0; i < spec.outputs().size(); i++) {
            if (!ImageSpec.KNOWN_OUTPUTS.contains(spec.outputs().get(i))) {
                problem(
                        "outputs[" + i + "]",
                        "expected one of "
                                + ImageSpec.KNOWN_OUTPUTS
                                + ", got '"
                                + spec.outputs().get(i)
                                + "'");
            }
        }
    }

    private void validation() {
        checkNames("validation.node", spec.validation().node(), NODE_CHECKS);
        checkNames("validation.cluster", spec.validation().cluster(), CLUSTER_CHECKS);
    }

    private void checkNames(String field, List<Map<String, Object>> checks, Set<String> known) {
        for (int i = 0; i < checks.size(); i++) {
            Object name = checks.get(i).get("check");
            if (!(name instanceof String s) || !known.contains(s)) {
                problem(
                        field + "[" + i + "].check",
                        "expected one of " + new java.util.TreeSet<>(known) + ", got '" + name + "'");
            }
        }
    }

    private List<RenderedFile> files() throws IOException {
        for (Map.Entry<String, String> p : spec.placeholders().entrySet()) {
            if (!Placeholders.NAME.matcher(p.getKey()).matches()) {
                problem("placeholders." + p.getKey(), "expected a placeholder name of letters, digits and '_'");
            }
            if (p.getValue() == null || p.getValue().isBlank()) {
                problem("placeholders." + p.getKey(), "expected the metadata key this placeholder is filled from");
            }
        }
        TemplateRenderer renderer = new TemplateRenderer(templateDir(loaded));
        Map<String, Object> model = templateModel(spec);
        List<RenderedFile> rendered = new ArrayList<>();
        Set<String> used = new HashSet<>();
        Set<String> paths = new HashSet<>();
        // A file that could not be rendered may be where a declared placeholder is used: then
        // "declared but used in no file" would send the user after the wrong mistake.
        boolean unrendered = false;
        for (int i = 0; i < spec.files().size(); i++) {
            FileEntry fe = spec.files().get(i);
            String f = "files[" + i + "]";
            if (!fe.path().startsWith("/")
                    || fe.path().contains("/../")
                    || fe.path().endsWith("/")) {
                problem(f + ".path", "expected an absolute file path inside the image, got '" + fe.path() + "'");
            } else if (!paths.add(fe.path())) {
                problem(f + ".path", "the same path is declared twice: " + fe.path());
            }
            if (!MODE.matcher(fe.mode()).matches()) {
                problem(f + ".mode", "expected an octal mode like \"0644\", got '" + fe.mode() + "'");
            }
            if (!OWNER.matcher(fe.owner()).matches()) {
                problem(f + ".owner", "expected user:group like root:root, got '" + fe.owner() + "'");
            }
            if ((fe.template() == null) == (fe.content() == null)) {
                problem(f, "expected exactly one of 'template' (a file under templates/) or 'content' (literal text)");
                continue;
            }
            String text;
            try {
                text = fe.template() != null
                        ? renderer.render(fe.template(), model)
                        : renderer.renderInline(f + ".content", fe.content(), model);
            } catch (RenderException e) {
                problem(f + (fe.template() != null ? ".template" : ".content"), e.getMessage());
                unrendered = true;
                continue;
            }
            Set<String> names = Placeholders.usedIn(text);
            for (String name : names) {
                if (!spec.placeholders().containsKey(name)) {
                    String where = fe.template() != null ? "template " + fe.template() : "content";
                    problem(
                            f + (fe.template() != null ? ".template" : ".content"),
                            "uses runtime placeholder @@"
                                    + name
                                    + "@@ ("
                                    + where
                                    + " line "
                                    + Placeholders.lineOf(text, name)
                                    + ") that is not declared under 'placeholders'; declare it with the metadata key it comes from");
                }
            }
            used.addAll(names);
            int mode = MODE.matcher(fe.mode()).matches() ? Integer.parseInt(fe.mode(), 8) : 0644;
            rendered.add(new RenderedFile(fe.path(), text, mode, fe.owner(), names));
        }
        for (String declared : spec.placeholders().keySet()) {
            if (!used.contains(declared) && !unrendered) {
                problem(
                        "placeholders." + declared,
                        "declared but used in no file; remove it or use @@" + declared + "@@ in a file");
            }
        }
        return rendered;
    }
}
