package dev.kiln.release;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ValidationRecord;
import dev.kiln.core.util.Hashing;
import dev.kiln.release.Event.GateResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Evaluates the gates of an environment for one version, from facts: the validation record beside
 * the manifest, the image's history, the clock. Every result says what was found (evidence) and,
 * when it fails, why and what would make it pass.
 */
final class Gates {
    private Gates() {}

    /** What the gates look at. */
    record Facts(ImageRef ref, String manifestSha256, Path recordsDir, Ledger ledger, Instant now) {}

    static List<GateResult> evaluate(Environments.Environment env, Facts f, Map<String, String> overrides, Identity who)
            throws IOException {
        List<GateResult> out = new ArrayList<>();
        if (env.from() != null) {
            out.add(from(env, f));
        }
        for (Environments.Gate g : env.gates()) {
            if (g instanceof Environments.Validated v) {
                out.add(validated(v, f));
            } else if (g instanceof Environments.Soak s) {
                out.add(soak(s, env, f));
            } else if (g instanceof Environments.Approvals a) {
                out.add(approvals(a, env, f));
            } else if (g instanceof Environments.TimeWindow w) {
                out.add(window(w, f));
            }
        }
        out.add(revoked(f));
        List<GateResult> applied = new ArrayList<>();
        for (GateResult r : out) {
            String reason = overrides.get(r.gate());
            if (reason != null && r.blocks()) {
                applied.add(new GateResult(
                        r.gate(),
                        GateResult.OVERRIDDEN,
                        r.evidence(),
                        "failed (" + r.why() + "); overridden by " + who + ": " + reason));
            } else {
                applied.add(r);
            }
        }
        return applied;
    }

    static GateResult pass(String gate, String evidence) {
        return new GateResult(gate, GateResult.PASS, evidence, null);
    }

    static GateResult fail(String gate, String evidence, String why) {
        return new GateResult(gate, GateResult.FAIL, evidence, why);
    }

    static GateResult validated(Environments.Validated v, Facts f) throws IOException {
        String want = (v.provider() == null ? "any provider" : v.provider())
                + " with at least "
                + v.masters()
                + " master(s) + "
                + v.workers()
                + " worker(s)";
        String sha12 = f.manifestSha256().substring(0, 12);
        ValidationRecord record = ValidationRecord.read(f.recordsDir());
        String hint = "kiln validate "
                + f.ref()
                + (v.provider() == null ? "" : " --provider " + v.provider())
                + " --masters "
                + v.masters()
                + " --workers "
                + v.workers();
        if (record == null || record.runsOrEmpty().isEmpty()) {
            return fail(
                    "validated",
                    "no validation runs recorded (no " + ValidationRecord.FILE + " in " + f.recordsDir() + ")",
                    "needs a validated run on " + want + "; run " + hint);
        }
        List<String> seen = new ArrayList<>();
        List<ValidationRecord.Run> runs = record.runsOrEmpty();
        for (int i = runs.size() - 1; i >= 0; i--) {
            ValidationRecord.Run r = runs.get(i);
            String shape = r.runId() + " " + r.result() + " on " + r.provider() + " " + r.masters() + "+" + r.workers();
            if (!r.validated()
                    || v.provider() != null && !v.provider().equals(r.provider())
                    || r.masters() < v.masters()
                    || r.workers() < v.workers()) {
                seen.add(shape);
                continue;
            }
            if (!f.manifestSha256().equals(r.manifestSha256())) {
                seen.add(shape
                        + " of another manifest ("
                        + (r.manifestSha256() == null
                                ? "not recorded"
                                : "sha256 " + r.manifestSha256().substring(0, 12))
                        + ")");
                continue;
            }
            Path report = ValidationRecord.reportOf(f.recordsDir(), r.runId());
            String reportSha = Files.isRegularFile(report) ? Hashing.sha256(report) : null;
            if (reportSha == null || !reportSha.equals(r.reportSha256())) {
                seen.add(shape
                        + " whose report "
                        + (reportSha == null ? "is missing" : "does not match its sha256")
                        + " ("
                        + report
                        + ")");
                continue;
            }
            return pass(
                    "validated",
                    "run "
                            + r.runId()
                            + " validated on "
                            + r.provider()
                            + " with "
                            + r.masters()
                            + " master(s) + "
                            + r.workers()
                            + " worker(s), started "
                            + r.startedAt()
                            + ", manifest sha256 "
                            + sha12
                            + ", report sha256 "
                            + r.reportSha256().substring(0, 12));
        }
        return fail(
                "validated",
                "validation.json has "
                        + String.join("; ", seen.subList(0, Math.min(4, seen.size())))
                        + (seen.size() > 4 ? "; " + (seen.size() - 4) + " more" : ""),
                "no validated run of manifest sha256 " + sha12 + " on " + want + "; run " + hint);
    }

    static GateResult from(Environments.Environment env, Facts f) {
        String version = f.ref().version();
        List<Event> entries = f.ledger().entries(env.from(), version);
        Event current = f.ledger().current(env.from());
        String now =
                current == null ? env.from() + " points at no version" : env.from() + " points at " + current.version();
        if (entries.isEmpty()) {
            return fail(
                    "from",
                    now,
                    version
                            + " has never been in "
                            + env.from()
                            + "; promote it there first (kiln promote "
                            + f.ref()
                            + " --to "
                            + env.from()
                            + ")");
        }
        Event first = entries.get(0);
        if (current != null && current.version().equals(version)) {
            return pass(
                    "from",
                    "in "
                            + env.from()
                            + " since "
                            + current.at()
                            + " (event #"
                            + current.seq()
                            + " by "
                            + current.by()
                            + ")");
        }
        return pass("from", "was in " + env.from() + " from " + first.at() + " (event #" + first.seq() + "); " + now);
    }

    static GateResult soak(Environments.Soak s, Environments.Environment env, Facts f) {
        String version = f.ref().version();
        Duration in = f.ledger().timeIn(env.from(), version, f.now());
        String evidence = "in "
                + env.from()
                + " for "
                + Environments.Durations.format(in)
                + " (needs "
                + Environments.Durations.format(s.duration())
                + ")";
        if (in.compareTo(s.duration()) >= 0) {
            return pass("soak", evidence);
        }
        Event current = f.ledger().current(env.from());
        boolean stillThere = current != null && current.version().equals(version);
        return fail(
                "soak",
                evidence,
                stillThere
                        ? "soaks until "
                                + f.now()
                                        .plus(s.duration().minus(in))
                                        .toString()
                                        .replaceFirst("\\.\\d+Z$", "Z")
                        : version + " is not in " + env.from() + " now, so it is not soaking");
    }

    static GateResult approvals(Environments.Approvals a, Environments.Environment env, Facts f) {
        List<Event> got = f.ledger().approvals(f.ref().version(), env.name());
        String who = got.isEmpty()
                ? "none"
                : got.stream().map(e -> e.by() + " (" + e.at() + ")").collect(Collectors.joining(", "));
        String evidence = got.size() + " of " + a.count() + " approval(s) from distinct identities: " + who;
        if (got.size() >= a.count()) {
            return pass("approvals", evidence);
        }
        return fail(
                "approvals",
                evidence,
                "needs " + (a.count() - got.size()) + " more: kiln approve " + f.ref() + " --env " + env.name());
    }

    static GateResult window(Environments.TimeWindow w, Facts f) {
        Window win = w.window();
        String evidence = "now is " + win.local(f.now());
        if (win.contains(f.now())) {
            return pass("window", evidence + ", inside " + win);
        }
        var next = win.nextOpening(f.now());
        return fail("window", evidence, "outside " + win + "; it next opens " + win.local(next.toInstant()));
    }

    static GateResult revoked(Facts f) {
        Event r = f.ledger().revocation(f.ref().version());
        if (r == null) {
            return pass("revoked", "not revoked");
        }
        return fail(
                "revoked",
                "revoked by " + r.by() + " at " + r.at() + " (event #" + r.seq() + ")",
                "a revoked version is never promoted: " + r.reason());
    }
}
