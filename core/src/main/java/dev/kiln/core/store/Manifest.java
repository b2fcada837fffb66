package dev.kiln.core.store;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * What an image is, as recorded in manifest.json next to its artifacts. Every later verb (inspect,
 * diff, validate, publish, serve) reads facts from here instead of re-deriving them.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Manifest(
        int schema,
        String name,
        String version,
        String description,
        String specSha256,
        String builtAt,
        double buildSeconds,
        String kilnVersion,
        Base base,
        Kernel kernel,
        Map<String, Component> components,
        Map<String, String> packages,
        List<FileRecord> files,
        Map<String, String> placeholders,
        List<ImageRecord> images,
        List<String> outputs,
        Map<String, Artifact> artifacts,
        Map<String, Object> validation,
        Reproducible reproducible,
        List<Map<String, Object>> storage) {

    public static final int SCHEMA = 1;

    @com.fasterxml.jackson.annotation.JsonCreator
    public Manifest {}

    /** A manifest of an image without node-local storage ({@code storage:} in its spec). */
    public Manifest(
            int schema,
            String name,
            String version,
            String description,
            String specSha256,
            String builtAt,
            double buildSeconds,
            String kilnVersion,
            Base base,
            Kernel kernel,
            Map<String, Component> components,
            Map<String, String> packages,
            List<FileRecord> files,
            Map<String, String> placeholders,
            List<ImageRecord> images,
            List<String> outputs,
            Map<String, Artifact> artifacts,
            Map<String, Object> validation,
            Reproducible reproducible) {
        this(
                schema,
                name,
                version,
                description,
                specSha256,
                builtAt,
                buildSeconds,
                kilnVersion,
                base,
                kernel,
                components,
                packages,
                files,
                placeholders,
                images,
                outputs,
                artifacts,
                validation,
                reproducible,
                null);
    }

    /** A manifest of a build that recorded nothing about rebuilding it (older kiln, tests). */
    public Manifest(
            int schema,
            String name,
            String version,
            String description,
            String specSha256,
            String builtAt,
            double buildSeconds,
            String kilnVersion,
            Base base,
            Kernel kernel,
            Map<String, Component> components,
            Map<String, String> packages,
            List<FileRecord> files,
            Map<String, String> placeholders,
            List<ImageRecord> images,
            List<String> outputs,
            Map<String, Artifact> artifacts,
            Map<String, Object> validation) {
        this(
                schema,
                name,
                version,
                description,
                specSha256,
                builtAt,
                buildSeconds,
                kilnVersion,
                base,
                kernel,
                components,
                packages,
                files,
                placeholders,
                images,
                outputs,
                artifacts,
                validation,
                null,
                null);
    }

    public String ref() {
        return name + ":" + version;
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Base(
            String distribution,
            String suite,
            String mirror,
            String snapshot,
            List<String> sources,
            String mirrorState) {}

    /** {@code release} is what {@code uname -r} prints on a node booted from this image. */
    public record Kernel(String packageName, String version, String release, String cmdline) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Component(
            String version, String source, String packageName, String packageVersion, String url, String sha256) {}

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record FileRecord(String path, String sha256, String mode, String owner, List<String> placeholders) {}

    public record ImageRecord(String name, String sha256, long size) {}

    public record Artifact(String sha256, long size) {}

    /**
     * What a rebuild needs besides the spec (specSha256) and the mirror state (base): the time
     * every time stamp in the artifacts was clamped to, where it came from, and the spec file the
     * build read. {@code builtAt} above is the wall clock and appears in no artifact.
     */
    public record Reproducible(long sourceDateEpoch, String sourceDate, String sourceDateFrom, String specFile) {}
}
