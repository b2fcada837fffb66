package dev.kiln.cli;

import dev.kiln.core.store.ImageRef;
import dev.kiln.release.Event;
import dev.kiln.release.GatesRefusedException;
import dev.kiln.release.Releases;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "promote",
        mixinStandardHelpOptions = true,
        description = {
            "Moves an environment's channel to an image version, if its gates pass.",
            "Prints one line per gate of the environment (pass or fail, the evidence, why):",
            "  validated  a validated kiln validate run of this exact manifest, on that",
            "             provider, with at least that many masters and workers",
            "  from       the version is or was in the environment it comes from",
            "  soak       it has spent at least that long there",
            "  approvals  that many kiln approve records, from distinct identities",
            "  window     now is inside the time window",
            "  revoked    it was never revoked (no override)",
            "If one fails: exit 1 and nothing is recorded. Otherwise one event is appended",
            "to the image's history (who, when, from -> to, reason, every gate's evidence),",
            "the channel moves, and when the version has AMIs, /kiln/images/NAME/ENV (SSM)",
            "points at them in every region. A promotion never reboots anything.",
            "Two promotions of one environment at the same moment: one wins, the other",
            "fails with a conflict (recorded as such).",
            "--rollback ENV points ENV back at the version it had before (recorded as a",
            "rollback; its gates counted when it was there)."
        },
        footer = {
            "",
            "Examples:",
            "  kiln promote debian-node:1.0.1 --to staging --reason 'passed dev'",
            "  kiln promote debian-node:1.0.1 --to prod --override window --reason 'CVE fix'",
            "  kiln promote debian-node --rollback prod --reason 'etcd regression'",
            "  kiln promote debian-node:1.0.1 --to prod --store s3://my-images/kiln"
        })
final class PromoteCommand implements Callable<Integer> {
    @Parameters(
            paramLabel = "NAME:VERSION",
            arity = "0..1",
            description =
                    "The version to promote (with --rollback: the image NAME; optional if only one image has ENV).")
    String ref;

    @Option(names = "--to", paramLabel = "ENV", description = "The environment to promote into.")
    String to;

    @Option(names = "--rollback", paramLabel = "ENV", description = "Point ENV back at the version it had before.")
    String rollback;

    @Option(names = "--reason", paramLabel = "TEXT", description = "Why; recorded. Required with --override.")
    String reason;

    @Option(
            names = "--override",
            paramLabel = "GATE",
            description =
                    "Bypass this gate (validated, from, soak, approvals, window); recorded with --reason. Repeatable.")
    List<String> overrides = List.of();

    @Mixin
    ReleaseOptions options;

    @Override
    public Integer call() throws Exception {
        if ((to == null) == (rollback == null)) {
            throw new IllegalArgumentException("give either --to ENV (promote NAME:VERSION) or --rollback ENV");
        }
        if (!overrides.isEmpty() && (reason == null || reason.isBlank())) {
            throw new IllegalArgumentException("--override needs --reason TEXT: an override is recorded with why");
        }
        Map<String, String> bypass = new LinkedHashMap<>();
        overrides.forEach(g -> bypass.put(g, reason));
        try (Releases releases = options.open()) {
            if (rollback != null) {
                return rollback(releases);
            }
            if (ref == null) {
                throw new IllegalArgumentException("which version? kiln promote NAME:VERSION --to " + to);
            }
            ImageRef image = ImageRef.parse(ref);
            var envs = options.environments();
            System.out.println(
                    "promote " + image + " -> " + to + " (" + releases.store().describe() + ")");
            Releases.Outcome o;
            try {
                o = releases.promote(envs, image, to, reason, bypass);
            } catch (GatesRefusedException e) {
                print(e.results());
                long failed =
                        e.results().stream().filter(Event.GateResult::blocks).count();
                System.out.println("REFUSED: " + failed + " gate(s) failed; nothing was recorded");
                return 1;
            }
            if (o.alreadyThere()) {
                System.out.println(to
                        + " already points at "
                        + image.version()
                        + " (since "
                        + o.current().at()
                        + ", by "
                        + o.current().by()
                        + ", event #"
                        + o.current().seq()
                        + "); nothing recorded");
            } else {
                print(o.gates());
                Event e = o.event();
                System.out.println("promoted "
                        + image
                        + " to "
                        + to
                        + " (was "
                        + (e.previousVersion() == null ? "nothing" : e.previousVersion())
                        + "): event #"
                        + e.seq()
                        + " by "
                        + e.by()
                        + " at "
                        + e.at()
                        + (e.overrides() == null || e.overrides().isEmpty()
                                ? ""
                                : ", overriding " + String.join(", ", e.overrides())));
            }
            ssm(o);
            return 0;
        }
    }

    private Integer rollback(Releases releases) throws Exception {
        String image = ref;
        if (image != null && image.contains(":")) {
            throw new IllegalArgumentException("--rollback takes the image NAME, not a version: kiln promote "
                    + image.substring(0, image.indexOf(':'))
                    + " --rollback "
                    + rollback);
        }
        if (image == null) {
            List<String> with = new java.util.ArrayList<>();
            for (String n : releases.store().images()) {
                if (releases.ledger(n).current(rollback) != null) {
                    with.add(n);
                }
            }
            if (with.size() != 1) {
                throw new IllegalArgumentException(
                        with.isEmpty()
                                ? "no image has environment "
                                        + rollback
                                        + " in "
                                        + releases.store().describe()
                                : "several images have "
                                        + rollback
                                        + " ("
                                        + String.join(", ", with)
                                        + "): kiln promote NAME --rollback "
                                        + rollback);
            }
            image = with.get(0);
        }
        System.out.println("rollback " + image + " in " + rollback + " ("
                + releases.store().describe() + ")");
        Releases.Outcome o;
        try {
            o = releases.rollback(image, rollback, reason);
        } catch (GatesRefusedException e) {
            print(e.results());
            System.out.println("REFUSED: nothing was recorded");
            return 1;
        }
        print(o.gates());
        Event e = o.event();
        System.out.println("rolled "
                + rollback
                + " back from "
                + e.previousVersion()
                + " to "
                + e.version()
                + ": event #"
                + e.seq()
                + " by "
                + e.by()
                + " at "
                + e.at());
        ssm(o);
        return 0;
    }

    private static void print(List<Event.GateResult> results) {
        results.forEach(r -> System.out.println("  " + r.line()));
    }

    private static void ssm(Releases.Outcome o) {
        for (Event.SsmTarget t : o.ssm()) {
            System.out.println("  SSM " + t.parameter() + " -> " + t.imageId() + " in " + t.region());
        }
    }
}
