package dev.kiln.release;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * One record of the append-only history of an image: a promotion, a rollback, an approval, a
 * revocation, or a promotion that lost a race (conflict). Stored as one JSON document per event,
 * under its sequence number; never changed once written.
 *
 * @param seq position in the image's history, from 1; the storage key holds it
 * @param version the version promoted, rolled back to, approved or revoked
 * @param env the environment it moved into (approve: the one it is approved for)
 * @param previousVersion what {@code env} pointed at before (promote, rollback), null if nothing
 * @param fromEnv the environment it came from (the target's 'from'), if any
 * @param by who: the CI identity from the environment, else user@host
 * @param identity where {@code by} came from (GITHUB_ACTOR, user@host, ...)
 * @param at when, ISO-8601 UTC
 * @param gates each gate's result and evidence at the time
 * @param overrides gates bypassed with --override (their result is "overridden")
 * @param manifestSha256 sha256 of the version's manifest.json
 * @param ssm the SSM parameters the promotion points at the version's AMIs
 * @param lostTo conflict: the event that won the race
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record Event(
        int schema,
        long seq,
        String id,
        String type,
        String image,
        String version,
        String env,
        String previousVersion,
        String fromEnv,
        String by,
        String identity,
        String at,
        String reason,
        List<GateResult> gates,
        List<String> overrides,
        String manifestSha256,
        List<SsmTarget> ssm,
        Long lostTo) {
    public static final int SCHEMA = 1;
    public static final String PROMOTE = "promote";
    public static final String ROLLBACK = "rollback";
    public static final String APPROVE = "approve";
    public static final String REVOKE = "revoke";
    public static final String CONFLICT = "conflict";

    /** kiln pin: kiln prune never deletes the version until it is unpinned. */
    public static final String PIN = "pin";

    public static final String UNPIN = "unpin";

    /** Whether this event moved {@code env}'s channel. */
    @JsonIgnore
    public boolean moves() {
        return PROMOTE.equals(type) || ROLLBACK.equals(type);
    }

    public Event withSeq(long s) {
        return new Event(
                schema,
                s,
                id,
                type,
                image,
                version,
                env,
                previousVersion,
                fromEnv,
                by,
                identity,
                at,
                reason,
                gates,
                overrides,
                manifestSha256,
                ssm,
                lostTo);
    }

    /**
     * One gate's outcome.
     *
     * @param status pass, fail or overridden
     * @param evidence what was found (the run, the time in the previous environment, the approvers)
     * @param why for a failure or an override: why
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record GateResult(String gate, String status, String evidence, String why) {
        public static final String PASS = "pass";
        public static final String FAIL = "fail";
        public static final String OVERRIDDEN = "overridden";

        @JsonIgnore
        public boolean blocks() {
            return FAIL.equals(status);
        }

        /** "soak pass in dev for 26h (since ...)". */
        public String line() {
            StringBuilder sb =
                    new StringBuilder(String.format("%-10s %-10s %s", gate, status, evidence == null ? "" : evidence));
            if (why != null) {
                sb.append(evidence == null ? "" : ": ").append(why);
            }
            return sb.toString().stripTrailing();
        }
    }

    /** An SSM parameter pointed at the version's AMI in one region. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record SsmTarget(String region, String parameter, String imageId, String endpoint) {}
}
