package dev.kiln.core.store;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Where a version is published: {@code published.json} next to its manifest (which stays
 * immutable). Updated after each step that makes something visible, so even an interrupted publish
 * records what it finished. Several kiln processes may publish one version at once (S3 and AMIs,
 * say): updates take a file lock and replace the file atomically.
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Published(String ref, List<S3Copy> s3, List<Ami> amis) {
    public static final String FILE = "published.json";

    /**
     * A complete copy of the version in S3. {@code endpoint} is set when it went to an emulator.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record S3Copy(String url, String endpoint, String publishedAt, int objects, long bytes) {}

    /**
     * An AMI in one region. {@code copiedFrom} names the source region of a copy; {@code
     * ssmParameter} is set when the parameter in that region points at this AMI.
     */
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public record Ami(
            String region,
            String imageId,
            String snapshotId,
            String name,
            String copiedFrom,
            List<String> sharedWith,
            String ssmParameter,
            String endpoint,
            String publishedAt) {}

    public static Published read(Path versionDir) throws IOException {
        return Sidecar.read(versionDir, FILE, Published.class);
    }

    /**
     * Applies {@code change} to the current record (empty if none) under a lock and writes it
     * atomically.
     */
    public static Published update(Path versionDir, String ref, UnaryOperator<Published> change) throws IOException {
        return Sidecar.update(
                versionDir, FILE, Published.class, () -> new Published(ref, List.of(), List.of()), change);
    }

    public Published withS3(S3Copy copy) {
        List<S3Copy> all = new ArrayList<>(s3 == null ? List.of() : s3);
        all.removeIf(c -> c.url().equals(copy.url()) && java.util.Objects.equals(c.endpoint(), copy.endpoint()));
        all.add(copy);
        return new Published(ref, List.copyOf(all), amis == null ? List.of() : amis);
    }

    /**
     * Replaces the entry of the AMI's region; launch permissions of the same AMI add up (kiln never
     * revokes).
     */
    public Published withAmi(Ami ami) {
        List<Ami> all = new ArrayList<>(amis == null ? List.of() : amis);
        java.util.Set<String> shared = new java.util.TreeSet<>(ami.sharedWith() == null ? List.of() : ami.sharedWith());
        for (Ami a : all) {
            if (a.region().equals(ami.region())
                    && a.imageId().equals(ami.imageId())
                    && a.sharedWith() != null
                    && java.util.Objects.equals(a.endpoint(), ami.endpoint())) {
                shared.addAll(a.sharedWith());
            }
        }
        all.removeIf(a -> a.region().equals(ami.region()) && java.util.Objects.equals(a.endpoint(), ami.endpoint()));
        all.add(new Ami(
                ami.region(),
                ami.imageId(),
                ami.snapshotId(),
                ami.name(),
                ami.copiedFrom(),
                List.copyOf(shared),
                ami.ssmParameter(),
                ami.endpoint(),
                ami.publishedAt()));
        all.sort(Comparator.comparing((Ami a) -> a.copiedFrom() != null).thenComparing(Ami::region));
        return new Published(ref, s3 == null ? List.of() : s3, List.copyOf(all));
    }

    /** Human-readable lines for {@code kiln inspect}. */
    public List<String> describe() {
        List<String> lines = new ArrayList<>();
        for (S3Copy c : s3 == null ? List.<S3Copy>of() : s3) {
            lines.add("s3   "
                    + c.url()
                    + "  ("
                    + c.objects()
                    + " objects, published "
                    + c.publishedAt()
                    + (c.endpoint() != null ? ", endpoint " + c.endpoint() : "")
                    + ")");
        }
        for (Ami a : amis == null ? List.<Ami>of() : amis) {
            StringBuilder sb =
                    new StringBuilder("ami  ").append(a.region()).append("  ").append(a.imageId());
            if (a.snapshotId() != null) {
                sb.append("  snapshot ").append(a.snapshotId());
            }
            if (a.copiedFrom() != null) {
                sb.append("  copied from ").append(a.copiedFrom());
            }
            if (a.sharedWith() != null && !a.sharedWith().isEmpty()) {
                sb.append("  shared with ").append(String.join(",", a.sharedWith()));
            }
            if (a.ssmParameter() != null) {
                sb.append("  ssm ").append(a.ssmParameter());
            }
            if (a.endpoint() != null) {
                sb.append("  endpoint ").append(a.endpoint());
            }
            lines.add(sb.toString());
        }
        return lines;
    }
}
