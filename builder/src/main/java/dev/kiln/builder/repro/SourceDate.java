package dev.kiln.builder.repro;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * The build's SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/): one
 * instant that every time stamp inside the artifacts is clamped to or taken from. It comes from
 * what the build reads, never from the wall clock: the newest {@code Date:} of the mirror's Release
 * files (which the package layer is keyed on too), else the spec's {@code base.snapshot}. The same
 * spec against the same mirror state therefore gets the same epoch on any machine, at any time.
 *
 * @param epoch seconds since 1970-01-01T00:00:00Z
 * @param from where it came from, for the manifest and for people
 */
public record SourceDate(long epoch, String from) {
    /** snapshot.debian.org's time stamps: 20260711T000000Z. */
    private static final DateTimeFormatter SNAPSHOT = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");

    /** FAT time stamps start in 1980; mke2fs reads a fake time of 0 as "none". */
    private static final long MIN = 315532800L;

    public SourceDate {
        if (epoch < MIN) {
            throw new IllegalArgumentException(
                    "SOURCE_DATE_EPOCH " + epoch + " is before 1980 (" + from + "); FAT file systems cannot hold it");
        }
    }

    /**
     * @param newestReleaseDate the newest Date: of the Release files the build read, or null
     * @param snapshot the spec's base.snapshot, or null
     */
    public static SourceDate of(Instant newestReleaseDate, String snapshot) {
        if (newestReleaseDate != null) {
            return new SourceDate(
                    newestReleaseDate.getEpochSecond(),
                    "newest Release Date of the mirror (" + newestReleaseDate + ")");
        }
        if (snapshot != null && !snapshot.isBlank()) {
            try {
                long s = LocalDateTime.parse(snapshot, SNAPSHOT).toEpochSecond(ZoneOffset.UTC);
                return new SourceDate(s, "base.snapshot " + snapshot);
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException(
                        "base.snapshot: expected a time stamp like 20260711T000000Z, got '" + snapshot + "'");
            }
        }
        throw new IllegalArgumentException("cannot derive the build's SOURCE_DATE_EPOCH: no Release file of the"
                + " sources has a Date: field and base.snapshot is not set");
    }

    /** The epoch as an ISO-8601 instant: what image.json says as its build time. */
    public String iso() {
        return Instant.ofEpochSecond(epoch).toString();
    }

    public String value() {
        return Long.toString(epoch);
    }
}
