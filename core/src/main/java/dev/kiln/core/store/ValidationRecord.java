package dev.kiln.core.store;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The validation history of a version: {@code validation.json} beside its manifest, plus each run's
 * report under {@code validation/RUN.json}, so a promotion can require a passed run of this exact
 * manifest and check the report it points at by digest. Written by kiln validate, read by kiln
 * inspect and kiln promote (which is why it lives in core: release must not need the validator).
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record ValidationRecord(String image, List<Run> runs) {
    public static final String FILE = "validation.json";
    public static final String REPORTS = "validation";

    /** {@link Run#result()} of a run where every node bootstrapped and every check passed. */
    public static final String VALIDATED = "validated";

    /**
     * @param reportSha256 sha256 of the report.json this run wrote (also kept as
     *     validation/RUN.json)
     * @param manifestSha256 sha256 of the manifest.json the run booted; null in records written
     *     before kiln recorded it
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Run(
            String runId,
            String result,
            String provider,
            int masters,
            int workers,
            String startedAt,
            double seconds,
            String reportSha256,
            String manifestSha256) {
        public boolean validated() {
            return VALIDATED.equals(result);
        }
    }

    public static ValidationRecord read(Path versionDir) throws IOException {
        return Sidecar.read(versionDir, FILE, ValidationRecord.class);
    }

    public List<Run> runsOrEmpty() {
        return runs == null ? List.of() : runs;
    }

    /**
     * The newest run that validated the version on {@code provider} (any provider if null), or
     * null.
     */
    public Run lastValidated(String provider) {
        List<Run> all = runsOrEmpty();
        for (int i = all.size() - 1; i >= 0; i--) {
            Run r = all.get(i);
            if (r.validated() && (provider == null || provider.equals(r.provider()))) {
                return r;
            }
        }
        return null;
    }

    /** The report kept for a run: validation/RUN.json beside the manifest. */
    public static Path reportOf(Path versionDir, String runId) {
        return versionDir.resolve(REPORTS).resolve(runId + ".json");
    }

    /** Keeps a copy of the run's report and appends the run, under the sidecar's lock. */
    public static void append(Path versionDir, String image, Run run, Path reportJson) throws IOException {
        Path copy = reportOf(versionDir, run.runId());
        Files.createDirectories(copy.getParent());
        Files.copy(reportJson, copy, StandardCopyOption.REPLACE_EXISTING);
        Sidecar.update(versionDir, FILE, ValidationRecord.class, () -> new ValidationRecord(image, List.of()), r -> {
            List<Run> all = new ArrayList<>(r.runsOrEmpty());
            all.add(run);
            return new ValidationRecord(r.image(), List.copyOf(all));
        });
    }
}
