package dev.kiln.builder.spec;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.kiln.core.store.Output;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A declarative image spec, as written in image-specs/*.yaml. Field docs live in
 * image-specs/kiln-spec.schema.json and the README; this is the parsed, immutable form.
 */
public record ImageSpec(
        @JsonProperty(required = true) String name,
        @JsonProperty(required = true) String version,
        String description,
        String templates,
        @JsonProperty(required = true) Base base,
        @JsonProperty(required = true) Kernel kernel,
        Map<String, Component> components,
        List<PackagePin> packages,
        List<FileEntry> files,
        Units units,
        Map<String, String> placeholders,
        List<PreloadImage> images,
        Map<String, Object> variables,
        Map<String, String> downloadMirrors,
        List<String> outputs,
        Validation validation,
        List<Storage> storage) {

    public static final List<String> KNOWN_OUTPUTS = Output.specNames();

    public ImageSpec {
        components =
                components == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(components));
        packages = packages == null ? List.of() : List.copyOf(packages);
        files = files == null ? List.of() : List.copyOf(files);
        units = units == null ? new Units(List.of(), List.of()) : units;
        placeholders = placeholders == null
                ? Map.of()
                : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(placeholders));
        images = images == null ? List.of() : List.copyOf(images);
        variables =
                variables == null ? Map.of() : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(variables));
        downloadMirrors = downloadMirrors == null
                ? Map.of()
                : java.util.Collections.unmodifiableMap(new LinkedHashMap<>(downloadMirrors));
        outputs = outputs == null ? KNOWN_OUTPUTS : List.copyOf(outputs);
        validation = validation == null ? new Validation(List.of(), List.of()) : validation;
        storage = storage == null ? List.of() : List.copyOf(storage);
    }

    /** "name:version", the reference used on the command line and in the store. */
    public String ref() {
        return name + ":" + version;
    }

    /**
     * The URL to fetch: the longest matching {@code downloadMirrors} prefix rewritten. sha256 pins
     * still apply.
     */
    public String mirrored(String url) {
        String best = null;
        for (String prefix : downloadMirrors.keySet()) {
            if (url.startsWith(prefix) && (best == null || prefix.length() > best.length())) {
                best = prefix;
            }
        }
        return best == null ? url : downloadMirrors.get(best) + url.substring(best.length());
    }

    public boolean wants(Output output) {
        return outputs.contains(output.specName());
    }

    /**
     * Where packages come from. {@code snapshot} pins the mirror to a point in time
     * (snapshot.debian.org). {@code updates}: the suites kiln outdated also reads for newer
     * versions; null means the suite's -security and -updates suites, an empty list none.
     */
    public record Base(
            @JsonProperty(required = true) String distribution,
            @JsonProperty(required = true) String suite,
            String mirror,
            String snapshot,
            List<String> components,
            List<Repository> repositories,
            String variant,
            List<Repository> updates) {
        public Base {
            mirror = mirror == null ? "http://deb.debian.org/debian" : mirror;
            components = components == null ? List.of("main") : List.copyOf(components);
            repositories = repositories == null ? List.of() : List.copyOf(repositories);
            variant = variant == null ? "minbase" : variant;
        }

        /**
         * The URL packages are really read from: the snapshot archive when a snapshot is pinned.
         */
        public String effectiveMirror() {
            if (snapshot == null) {
                return mirror;
            }
            return "http://snapshot.debian.org/archive/" + distribution + "/" + snapshot;
        }
    }

    /**
     * An extra apt repository; {@code key} is a URL or a path (relative to the spec) of its signing
     * key.
     */
    public record Repository(
            @JsonProperty(required = true) String url,
            @JsonProperty(required = true) String suite,
            List<String> components,
            String key) {
        public Repository {
            components = components == null ? List.of("main") : List.copyOf(components);
        }
    }

    public record Kernel(
            @JsonProperty(value = "package", required = true)
            String packageName,

            @JsonProperty(required = true) String version,
            String cmdline) {
        public Kernel {
            cmdline = cmdline == null ? "" : cmdline;
        }
    }

    /**
     * A pinned component. Exactly one source: a Debian package ({@code package}, from the base or
     * an extra {@code repository}), or a download ({@code url} + {@code sha256}) installed at
     * {@code install} or unpacked into {@code extract}.
     */
    public record Component(
            @JsonProperty(required = true) String version,
            @JsonProperty("package") String packageName,
            String packageVersion,
            Repository repository,
            String url,
            String sha256,
            String install,
            String extract,
            String mode) {
        public boolean isPackage() {
            return packageName != null;
        }

        /** The exact Debian version to pin; defaults to {@code version}. */
        public String debianVersion() {
            return packageVersion != null ? packageVersion : version;
        }
    }

    /** An extra Debian package, pinned or not; written as "name" or "name=version". */
    public record PackagePin(String name, String version) {
        @com.fasterxml.jackson.annotation.JsonCreator(
                mode = com.fasterxml.jackson.annotation.JsonCreator.Mode.DELEGATING)
        public static PackagePin parse(String text) {
            int eq = text.indexOf('=');
            return eq < 0
                    ? new PackagePin(text.trim(), null)
                    : new PackagePin(
                            text.substring(0, eq).trim(), text.substring(eq + 1).trim());
        }

        @com.fasterxml.jackson.annotation.JsonValue
        public String text() {
            return aptArgument();
        }

        public String aptArgument() {
            return version == null ? name : name + "=" + version;
        }
    }

    /**
     * A file placed in the image: from a FreeMarker {@code template} (square-bracket syntax) or
     * literal {@code content}. Runtime placeholders ({@code @@name@@}) survive rendering and are
     * filled on the node at first boot.
     */
    public record FileEntry(
            @JsonProperty(required = true) String path, String template, String content, String mode, String owner) {
        public FileEntry {
            mode = mode == null ? "0644" : mode;
            owner = owner == null ? "root:root" : owner;
        }
    }

    public record Units(List<String> enable, List<String> disable) {
        public Units {
            enable = enable == null ? List.of() : List.copyOf(enable);
            disable = disable == null ? List.of() : List.copyOf(disable);
        }
    }

    /** A container image baked in so nodes bootstrap without a registry. */
    public record PreloadImage(
            @JsonProperty(required = true) String name, String archive, String url, String sha256, String ref) {}

    public record Validation(List<Map<String, Object>> node, List<Map<String, Object>> cluster) {
        public Validation {
            node = node == null ? List.of() : List.copyOf(node);
            cluster = cluster == null ? List.of() : List.copyOf(cluster);
        }
    }

    /**
     * A node-local data disk (see {@link StorageSpec}): found by rules, formatted only when blank or
     * kiln's own, mounted, with paths bound onto it, wiped when a rollout reimages the node.
     */
    public record Storage(
            @JsonProperty(required = true) String name,
            @JsonProperty(required = true) Match match,
            String filesystem,
            String label,
            @JsonProperty(required = true) String mount,
            List<String> binds,
            String wipe,
            Boolean required,
            Boolean takeover) {
        public Storage {
            binds = binds == null ? List.of() : List.copyOf(binds);
            filesystem = filesystem == null ? "ext4" : filesystem;
            label = label == null && name != null ? "kiln-" + name : label;
            wipe = wipe == null ? "on-reimage" : wipe;
            required = required == null ? Boolean.TRUE : required;
            takeover = takeover == null ? Boolean.FALSE : takeover;
        }
    }

    /**
     * Which disk: every rule given must hold. Sizes like 8G (K, M, G, T: powers of 1024); serial,
     * model and byPath are shell patterns ({@code *}, {@code ?}); pick says what to do when several
     * disks match: only (fail), largest or smallest (fail on a tie).
     */
    public record Match(String minSize, String maxSize, String serial, String byPath, String model, String pick) {
        public Match {
            pick = pick == null ? "only" : pick;
        }
    }
}
