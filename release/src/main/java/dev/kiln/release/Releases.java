package dev.kiln.release;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.util.Hashing;
import dev.kiln.release.Event.GateResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Promotion, rollback, approval and revocation of image versions, recorded in a {@link
 * ReleaseStore}.
 *
 * <p>How a promotion is committed: read the image's history, evaluate the gates on it, and append
 * the event at the next sequence number, which the store grants to one writer only. A writer that
 * loses that race reads what was added: if it moved the same environment, the promotion is refused
 * as a conflict (and the attempt recorded as such), since its gates were evaluated against a state
 * that is gone; anything else (an approval, another environment) only means evaluating again on the
 * newer history and trying the next number. After the append, the environment's pointer is moved
 * (never backwards), then its SSM parameters. {@link ReleaseHistory} holds that append protocol.
 */
public final class Releases implements AutoCloseable {
    /**
     * kiln's one configuration, compact and without empty fields: records are many small documents.
     */
    static final ObjectMapper JSON = Json.MAPPER
            .copy()
            .disable(SerializationFeature.INDENT_OUTPUT)
            .setSerializationInclusion(JsonInclude.Include.NON_EMPTY);

    private final ReleaseStore store;
    private final Clock clock;
    private final Identity who;
    private final SsmChannels ssm;
    private final ReleaseHistory history;

    /**
     * @param ssm where SSM parameters are written; null to leave SSM alone (a store without AMIs)
     */
    public Releases(ReleaseStore store, Clock clock, Identity who, SsmChannels ssm) {
        this.store = store;
        this.clock = clock;
        this.who = who;
        this.ssm = ssm;
        this.history = new ReleaseHistory(store, this::ledger, this::now);
    }

    public ReleaseStore store() {
        return store;
    }

    /** Closes the store (its AWS clients). */
    @Override
    public void close() {
        store.close();
    }

    /** The image's history, folded. */
    public Ledger ledger(String image) throws IOException {
        List<Event> events = new ArrayList<>();
        for (ReleaseStore.Stored s : store.events(image)) {
            try {
                events.add(JSON.readValue(s.json(), Event.class).withSeq(s.seq()));
            } catch (IOException e) {
                throw new IOException(
                        "event #"
                                + s.seq()
                                + " of "
                                + image
                                + " in "
                                + store.describe()
                                + " is not a kiln event: "
                                + e.getMessage(),
                        e);
            }
        }
        return new Ledger(image, events);
    }

    /**
     * What a promotion did: its event (null if the environment already pointed there), the gate
     * results, SSM.
     */
    public record Outcome(Event event, List<GateResult> gates, Event current, List<Event.SsmTarget> ssm) {
        public boolean alreadyThere() {
            return event == null;
        }
    }

    /**
     * Evaluates the gates without recording anything (what kiln promote prints before it commits).
     */
    public List<GateResult> evaluate(Environments envs, ImageRef ref, String env, Map<String, String> overrides)
            throws IOException {
        Environments.Environment target = envs.require(env);
        return Gates.evaluate(target, facts(ref, ledger(ref.name())), overrides, who);
    }

    private Gates.Facts facts(ImageRef ref, Ledger ledger) throws IOException {
        byte[] manifest = store.manifest(ref);
        if (manifest == null) {
            throw new IllegalArgumentException("no image "
                    + ref
                    + " in "
                    + store.describe()
                    + " (kiln images lists a local store;"
                    + " kiln publish --s3 fills an S3 one)");
        }
        return new Gates.Facts(ref, Hashing.sha256(manifest), store.recordsDir(ref), ledger, now());
    }

    /**
     * Promotes the version into {@code env} if every gate passes (or is overridden).
     *
     * @param overrides gate name → the reason it is bypassed
     * @throws GatesRefusedException a gate failed; nothing recorded
     * @throws PromotionConflictException another change of {@code env} won the race
     */
    public Outcome promote(Environments envs, ImageRef ref, String env, String reason, Map<String, String> overrides)
            throws IOException, GatesRefusedException, PromotionConflictException {
        Environments.Environment target = envs.require(env);
        for (String gate : overrides.keySet()) {
            if (gate.equals("revoked")) {
                throw new IllegalArgumentException(
                        "--override revoked: a revoked version is never promoted; nothing overrides that");
            }
            if (!target.gateNames().contains(gate)) {
                throw new IllegalArgumentException("--override "
                        + gate
                        + ": environment "
                        + env
                        + " has no such gate (its gates: "
                        + String.join(
                                ", ",
                                target.gateNames().subList(0, target.gateNames().size() - 1))
                        + ")");
            }
        }
        Ledger ledger = ledger(ref.name());
        Gates.Facts facts = facts(ref, ledger);
        Event current = ledger.current(env);
        if (current != null && current.version().equals(ref.version())) {
            // Nothing to record; re-pointing SSM finishes a promotion whose SSM step failed.
            List<Event.SsmTarget> targets = SsmChannels.targets(ref, env, facts.recordsDir());
            pointSsm(targets, ref, env);
            return new Outcome(null, List.of(), current, targets);
        }
        List<Event.SsmTarget> targets = SsmChannels.targets(ref, env, facts.recordsDir());
        Event committed = history.commit(ref.name(), env, ledger, l -> {
            Gates.Facts f = new Gates.Facts(ref, facts.manifestSha256(), facts.recordsDir(), l, now());
            List<GateResult> results = Gates.evaluate(target, f, overrides, who);
            if (results.stream().anyMatch(GateResult::blocks)) {
                throw new GatesRefusedException(ref, env, results);
            }
            Event cur = l.current(env);
            List<String> used = results.stream()
                    .filter(r -> GateResult.OVERRIDDEN.equals(r.status()))
                    .map(GateResult::gate)
                    .toList();
            return event(
                    Event.PROMOTE,
                    ref,
                    env,
                    cur == null ? null : cur.version(),
                    target.from(),
                    reason,
                    results,
                    used,
                    f.manifestSha256(),
                    targets,
                    null);
        });
        pointSsm(targets, ref, env);
        return new Outcome(committed, committed.gates(), committed, targets);
    }

    /**
     * Points {@code env} back at the version it had before its current one, recorded as a rollback.
     */
    public Outcome rollback(String image, String env, String reason)
            throws IOException, GatesRefusedException, PromotionConflictException {
        Ledger ledger = ledger(image);
        Event current = ledger.current(env);
        if (current == null) {
            throw new IllegalArgumentException(
                    env + " of " + image + " was never promoted; there is nothing to roll back");
        }
        if (current.previousVersion() == null) {
            throw new IllegalArgumentException(env
                    + " of "
                    + image
                    + " has had only "
                    + current.version()
                    + "; there is no earlier version to roll back to");
        }
        ImageRef ref = new ImageRef(image, current.previousVersion());
        Gates.Facts facts = facts(ref, ledger);
        List<Event.SsmTarget> targets = SsmChannels.targets(ref, env, facts.recordsDir());
        Event committed = history.commit(image, env, ledger, l -> {
            Event cur = l.current(env);
            List<Event> stays = l.entries(env, ref.version());
            Event last = stays.isEmpty() ? null : stays.get(stays.size() - 1);
            List<GateResult> results = List.of(
                    Gates.pass(
                            "rollback",
                            env
                                    + " had "
                                    + ref.version()
                                    + (last == null ? "" : " from " + last.at() + " (event #" + last.seq() + ")")
                                    + " until "
                                    + cur.at()
                                    + " (event #"
                                    + cur.seq()
                                    + "): its gates counted then"),
                    Gates.revoked(new Gates.Facts(ref, facts.manifestSha256(), facts.recordsDir(), l, now())));
            if (results.stream().anyMatch(GateResult::blocks)) {
                throw new GatesRefusedException(ref, env, results);
            }
            return event(
                    Event.ROLLBACK,
                    ref,
                    env,
                    cur.version(),
                    null,
                    reason,
                    results,
                    List.of(),
                    facts.manifestSha256(),
                    targets,
                    null);
        });
        pointSsm(targets, ref, env);
        return new Outcome(committed, committed.gates(), committed, targets);
    }

    /**
     * Records an approval of the version for {@code env}; a second one by the same identity returns
     * the first.
     */
    public Event approve(Environments envs, ImageRef ref, String env, String reason) throws IOException {
        envs.require(env);
        Ledger ledger = ledger(ref.name());
        facts(ref, ledger); // the version must exist
        for (Event a : ledger.approvals(ref.version(), env)) {
            if (a.by().equals(who.name())) {
                return a;
            }
        }
        return history.append(
                ref.name(),
                ledger,
                event(Event.APPROVE, ref, env, null, null, reason, List.of(), List.of(), null, List.of(), null));
    }

    /**
     * Revokes the version: it is never promoted again and kiln serve refuses it. A second
     * revocation returns the first.
     */
    public Event revoke(ImageRef ref, String reason) throws IOException {
        if (reason == null || reason.isBlank()) {
            throw new IllegalArgumentException(
                    "a revocation needs --reason: it is what kiln serve tells the nodes it refuses");
        }
        Ledger ledger = ledger(ref.name());
        Event already = ledger.revocation(ref.version());
        if (already != null) {
            return already;
        }
        facts(ref, ledger);
        return history.append(
                ref.name(),
                ledger,
                event(Event.REVOKE, ref, null, null, null, reason, List.of(), List.of(), null, List.of(), null));
    }

    /**
     * Pins the version: kiln prune keeps it (with the reason) until it is unpinned. Pinning a
     * pinned version returns its pin. The version must exist: pinning is about keeping it.
     */
    public Event pin(ImageRef ref, String reason) throws IOException {
        if (reason == null || reason.isBlank()) {
            throw new IllegalArgumentException("a pin needs --reason: kiln prune prints it for the version it keeps");
        }
        Ledger ledger = ledger(ref.name());
        Event already = ledger.pins().get(ref.version());
        if (already != null) {
            return already;
        }
        facts(ref, ledger);
        return history.append(
                ref.name(),
                ledger,
                event(Event.PIN, ref, null, null, null, reason, List.of(), List.of(), null, List.of(), null));
    }

    /**
     * Removes the pin of the version; null if it was not pinned. Works for a version no longer in
     * the store.
     */
    public Event unpin(ImageRef ref, String reason) throws IOException {
        Ledger ledger = ledger(ref.name());
        if (ledger.pins().get(ref.version()) == null) {
            return null;
        }
        return history.append(
                ref.name(),
                ledger,
                event(Event.UNPIN, ref, null, null, null, reason, List.of(), List.of(), null, List.of(), null));
    }

    /** One environment as kiln channels shows it. */
    public record Channel(String env, Event current, Event revocation) {}

    /**
     * Every environment of the image: those in {@code envs} (may be null) in order, then any others
     * the history has.
     */
    public List<Channel> channels(String image, Environments envs) throws IOException {
        Ledger ledger = ledger(image);
        Set<String> names = new LinkedHashSet<>();
        if (envs != null) {
            envs.environments().forEach(e -> names.add(e.name()));
        }
        names.addAll(ledger.environments());
        List<Channel> out = new ArrayList<>();
        for (String env : names) {
            Event cur = ledger.current(env);
            out.add(new Channel(env, cur, cur == null ? null : ledger.revocation(cur.version())));
        }
        return out;
    }

    /** The pointer document of an environment. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Pointer(String image, String env, String version, long seq, String type, String since, String by) {}

    private void pointSsm(List<Event.SsmTarget> targets, ImageRef ref, String env) throws IOException {
        if (targets.isEmpty() || ssm == null) {
            return;
        }
        try {
            ssm.point(targets, ref, env);
        } catch (IOException e) {
            throw new IOException(
                    e.getMessage()
                            + "; the promotion is recorded: run kiln promote "
                            + ref
                            + " --to "
                            + env
                            + " again to retry the SSM parameters",
                    e);
        }
    }

    private Event event(
            String type,
            ImageRef ref,
            String env,
            String previous,
            String fromEnv,
            String reason,
            List<GateResult> gates,
            List<String> overrides,
            String manifestSha,
            List<Event.SsmTarget> ssmTargets,
            Long lostTo) {
        return new Event(
                Event.SCHEMA,
                0,
                UUID.randomUUID().toString(),
                type,
                ref.name(),
                ref.version(),
                env,
                previous,
                fromEnv,
                who.name(),
                who.source(),
                now().toString(),
                reason,
                gates,
                overrides,
                manifestSha,
                ssmTargets,
                lostTo);
    }

    private Instant now() {
        return clock.instant().truncatedTo(ChronoUnit.SECONDS);
    }

    static byte[] bytes(Event e) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(e);
        } catch (IOException x) {
            throw new UncheckedIOException(x);
        }
    }
}
