package dev.kiln.validator;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.kiln.core.store.Sidecar;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The validation history of a version: {@code validation.json} beside its manifest, plus each
 * run's report under {@code validation/RUN.json}, so a promotion can require a passed run and
 * check the report it points at by digest.
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record ValidationRecord(String image, List<Run> runs) {
    public static final String FILE = "validation.json";
    public static final String REPORTS = "validation";

    /** @param reportSha256 sha256 of the report.json this run wrote (also kept as validation/RUN.json) */
    public record Run(String runId, String result, String provider, int masters, int workers, String startedAt,
                      double seconds, String reportSha256) { }

    public static ValidationRecord read(Path versionDir) throws IOException {
        return Sidecar.read(versionDir, FILE, ValidationRecord.class);
    }

    /** The newest run that validated the version on {@code provider} (any provider if null), or null. */
    public Run lastValidated(String provider) {
        for (int i = runs.size() - 1; i >= 0; i--) {
            Run r = runs.get(i);
            if (ValidationReport.VALIDATED.equals(r.result()) && (provider == null || provider.equals(r.provider()))) {
                return r;
            }
        }
        return null;
    }

    static void append(Path versionDir, ValidationReport report, ReportWriter.Written written) throws IOException {
        Path copy = versionDir.resolve(REPORTS).resolve(report.runId() + ".json");
        Files.createDirectories(copy.getParent());
        Files.copy(written.json(), copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Run run = new Run(report.runId(), report.result(), report.provider(), report.masters(), report.workers(),
                report.startedAt(), report.seconds(), written.jsonSha256());
        Sidecar.update(versionDir, FILE, ValidationRecord.class, () -> new ValidationRecord(report.image(), List.of()), r -> {
            List<Run> all = new ArrayList<>(r.runs() == null ? List.of() : r.runs());
            all.add(run);
            return new ValidationRecord(r.image(), List.copyOf(all));
        });
    }
}
