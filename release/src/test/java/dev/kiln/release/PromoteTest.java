package dev.kiln.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.release.Event.GateResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Promotions in a local store of hand-made versions, on a clock the test moves. */
class PromoteTest {
    static final String ENVIRONMENTS = """
            environments:
              - name: dev
                gates:
                  - validated: {provider: qemu-pxe, masters: 1, workers: 2}
              - name: prod
                from: dev
                gates:
                  - soak: 24h
                  - approvals: 2
                  - window: "Mon-Thu 09:00-16:00 Europe/Amsterdam"
            """;

    @TempDir
    Path tmp;

    ImageStore store;
    Environments envs;
    // Monday 2026-11-23, 10:00 in Amsterdam.
    final Fixtures.TestClock clock = new Fixtures.TestClock("2026-11-23T09:00:00Z");
    ImageRef v1;
    ImageRef v2;

    @BeforeEach
    void setUp() throws Exception {
        store = new ImageStore(tmp.resolve("store"));
        envs = EnvironmentsLoader.parse(tmp.resolve("environments.yaml"), ENVIRONMENTS);
        v1 = Fixtures.version(store, "debian-node", "1.0.0");
        v2 = Fixtures.version(store, "debian-node", "1.0.1");
    }

    Releases as(String who) {
        return new Releases(new LocalReleaseStore(store), clock, new Identity(who, "KILN_ACTOR"), null);
    }

    static GateResult gate(List<GateResult> results, String name) {
        return results.stream().filter(r -> r.gate().equals(name)).findFirst().orElseThrow();
    }

    List<GateResult> refused(Releases r, ImageRef ref, String env, Map<String, String> overrides) {
        try {
            r.promote(envs, ref, env, "test", overrides);
        } catch (GatesRefusedException e) {
            assertThat(e.getMessage()).contains("nothing was recorded");
            return e.results();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("promotion of " + ref + " to " + env + " was not refused");
    }

    /** 1.0.0 validated on qemu-pxe 1+2 and promoted to dev by alice at the start of the clock. */
    void inDev(ImageRef ref) throws Exception {
        Fixtures.validated(store, ref, "kv" + ref.version().replace(".", ""), "validated", "qemu-pxe", 1, 2, null);
        as("alice").promote(envs, ref, "dev", "first", Map.of());
    }

    @Test
    void eachGateRefusesNamingItselfAndItsEvidenceAndNothingIsRecorded() throws Exception {
        Releases alice = as("alice");
        // validated: nothing recorded at all.
        GateResult validated = gate(refused(alice, v1, "dev", Map.of()), "validated");
        assertThat(validated.line())
                .startsWith("validated  fail       no validation runs recorded (no validation.json in "
                        + store.dir(v1)
                        + "): needs a validated run on qemu-pxe with at least 1 master(s) + 2 worker(s);"
                        + " run kiln validate debian-node:1.0.0 --provider qemu-pxe --masters 1 --workers 2");
        // validated: runs that do not count, each with why.
        Fixtures.validated(store, v1, "kvaaaa01", "failed", "qemu-pxe", 1, 2, null);
        Fixtures.validated(store, v1, "kvaaaa02", "validated", "container", 1, 2, null);
        Fixtures.validated(store, v1, "kvaaaa03", "validated", "qemu-pxe", 1, 1, null);
        Fixtures.validated(store, v1, "kvaaaa04", "validated", "qemu-pxe", 3, 2, "f".repeat(64));
        validated = gate(refused(alice, v1, "dev", Map.of()), "validated");
        assertThat(validated.status()).isEqualTo("fail");
        assertThat(validated.evidence())
                .isEqualTo("validation.json has kvaaaa04 validated on qemu-pxe 3+2 of another manifest"
                        + " (sha256 ffffffffffff); kvaaaa03 validated on qemu-pxe 1+1; kvaaaa02 validated on container 1+2;"
                        + " kvaaaa01 failed on qemu-pxe 1+2");
        assertThat(validated.why()).startsWith("no validated run of manifest sha256 ");
        // A matching run whose kept report was altered does not count either.
        Fixtures.validated(store, v1, "kvaaaa05", "validated", "qemu-pxe", 1, 2, null);
        Files.writeString(
                store.dir(v1).resolve("validation/kvaaaa05.json"), "{\"result\":\"validated\",\"edited\":true}");
        assertThat(gate(refused(alice, v1, "dev", Map.of()), "validated").evidence())
                .contains("kvaaaa05 validated on qemu-pxe 1+2 whose report does not match its sha256");
        assertThat(alice.ledger("debian-node").events()).isEmpty();

        inDev(v1);
        // from, soak, approvals: 1.0.1 was never in dev.
        List<GateResult> r = refused(alice, v2, "prod", Map.of());
        assertThat(gate(r, "from").line())
                .isEqualTo("from       fail       dev points at 1.0.0: 1.0.1 has never been in dev;"
                        + " promote it there first (kiln promote debian-node:1.0.1 --to dev)");
        assertThat(gate(r, "soak").line())
                .isEqualTo("soak       fail       in dev for 0m (needs 1d): 1.0.1 is not in dev now,"
                        + " so it is not soaking");
        assertThat(gate(r, "approvals").line())
                .isEqualTo("approvals  fail       0 of 2 approval(s) from distinct identities: none:"
                        + " needs 2 more: kiln approve debian-node:1.0.1 --env prod");
        assertThat(gate(r, "window").status()).isEqualTo("pass");
        assertThat(gate(r, "revoked").line()).isEqualTo("revoked    pass       not revoked");

        // soak: 3 hours of 24; approvals: one identity, however often it approves.
        clock.advance(Duration.ofHours(3));
        alice.approve(envs, v1, "prod", "looks fine");
        alice.approve(envs, v1, "prod", "really");
        r = refused(alice, v1, "prod", Map.of());
        assertThat(gate(r, "from").line())
                .startsWith("from       pass       in dev since 2026-11-23T09:00:00Z (event #1 by alice)");
        assertThat(gate(r, "soak").line())
                .isEqualTo("soak       fail       in dev for 3h (needs 1d): soaks until 2026-11-24T09:00:00Z");
        assertThat(gate(r, "approvals").line())
                .isEqualTo("approvals  fail       1 of 2 approval(s) from distinct identities:"
                        + " alice (2026-11-23T12:00:00Z): needs 1 more: kiln approve debian-node:1.0.0 --env prod");

        // window: Friday 2026-11-27 17:30 in Amsterdam; soak and approvals are met by then.
        as("bob").approve(envs, v1, "prod", null);
        clock.now = java.time.Instant.parse("2026-11-27T16:30:00Z");
        r = refused(alice, v1, "prod", Map.of());
        assertThat(gate(r, "soak").status()).isEqualTo("pass");
        assertThat(gate(r, "approvals").evidence()).startsWith("2 of 2 approval(s) from distinct identities: alice");
        assertThat(gate(r, "window").line())
                .isEqualTo(
                        "window     fail       now is Fri 2026-11-27 17:30 Europe/Amsterdam:"
                                + " outside Mon-Thu 09:00-16:00 Europe/Amsterdam; it next opens Mon 2026-11-30 09:00 Europe/Amsterdam");
        assertThat(r)
                .filteredOn(GateResult::blocks)
                .extracting(GateResult::gate)
                .containsExactly("window");

        // Refusals leave no trace: the promotion to dev and the two approvals (alice counted once).
        assertThat(alice.ledger("debian-node").events())
                .extracting(Event::type, Event::by)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("promote", "alice"),
                        org.assertj.core.groups.Tuple.tuple("approve", "alice"),
                        org.assertj.core.groups.Tuple.tuple("approve", "bob"));
    }

    @Test
    void aPromotionWithEveryGateMetRecordsWhoWhenFromToWhyAndTheEvidence() throws Exception {
        inDev(v1);
        as("bob").approve(envs, v1, "prod", "diff reviewed");
        as("carol").approve(envs, v1, "prod", null);
        clock.advance(Duration.ofHours(25)); // Tuesday 11:00 in Amsterdam
        Releases.Outcome o = as("dave").promote(envs, v1, "prod", "rollout wave 1", Map.of());

        Event e = o.event();
        assertThat(e.seq()).isEqualTo(4);
        assertThat(e.type()).isEqualTo("promote");
        assertThat(e.by()).isEqualTo("dave");
        assertThat(e.identity()).isEqualTo("KILN_ACTOR");
        assertThat(e.at()).isEqualTo("2026-11-24T10:00:00Z");
        assertThat(e.env()).isEqualTo("prod");
        assertThat(e.fromEnv()).isEqualTo("dev");
        assertThat(e.previousVersion()).isNull();
        assertThat(e.version()).isEqualTo("1.0.0");
        assertThat(e.reason()).isEqualTo("rollout wave 1");
        assertThat(e.manifestSha256())
                .isEqualTo(dev.kiln.core.util.Hashing.sha256(store.dir(v1).resolve("manifest.json")));
        assertThat(e.gates())
                .extracting(GateResult::gate, GateResult::status)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("from", "pass"),
                        org.assertj.core.groups.Tuple.tuple("soak", "pass"),
                        org.assertj.core.groups.Tuple.tuple("approvals", "pass"),
                        org.assertj.core.groups.Tuple.tuple("window", "pass"),
                        org.assertj.core.groups.Tuple.tuple("revoked", "pass"));
        assertThat(gate(e.gates(), "soak").evidence()).isEqualTo("in dev for 1d1h (needs 1d)");
        assertThat(gate(e.gates(), "approvals").evidence())
                .startsWith("2 of 2 approval(s) from distinct identities: bob (2026-11-23T09:00:00Z), carol");
        // The dev promotion's evidence names the run.
        Event dev = as("x").ledger("debian-node").current("dev");
        assertThat(gate(dev.gates(), "validated").evidence())
                .startsWith("run kv100 validated on qemu-pxe with 1 master(s) + 2 worker(s)");

        // One JSON document per event, and the environment's pointer.
        Path records = store.root().resolve("debian-node/.release");
        assertThat(Files.readString(records.resolve("events/0000000004.json")))
                .contains("\"by\" : \"dave\"", "\"reason\" : \"rollout wave 1\"");
        Releases.Pointer p =
                Releases.JSON.readValue(records.resolve("channels/prod.json").toFile(), Releases.Pointer.class);
        assertThat(p)
                .isEqualTo(new Releases.Pointer(
                        "debian-node", "prod", "1.0.0", 4, "promote", "2026-11-24T10:00:00Z", "dave"));
        List<Releases.Channel> channels = as("x").channels("debian-node", envs);
        assertThat(channels)
                .extracting(c ->
                        c.env() + "=" + (c.current() == null ? "-" : c.current().version()))
                .containsExactly("dev=1.0.0", "prod=1.0.0");

        // Promoting it again changes and records nothing.
        Releases.Outcome again = as("erin").promote(envs, v1, "prod", null, Map.of());
        assertThat(again.alreadyThere()).isTrue();
        assertThat(as("x").ledger("debian-node").lastSeq()).isEqualTo(4);
    }

    @Test
    void anOverrideBypassesOneNamedGateAndIsRecordedAsSuch() throws Exception {
        inDev(v1);
        as("bob").approve(envs, v1, "prod", null);
        as("carol").approve(envs, v1, "prod", null);
        clock.now = java.time.Instant.parse("2026-11-27T16:30:00Z"); // Friday evening: outside the window
        assertThatThrownBy(() -> as("dave").promote(envs, v1, "prod", "CVE", Map.of("revoked", "CVE")))
                .hasMessageContaining("a revoked version is never promoted; nothing overrides that");
        assertThatThrownBy(() -> as("dave").promote(envs, v1, "prod", "CVE", Map.of("validated", "CVE")))
                .hasMessage(
                        "--override validated: environment prod has no such gate (its gates: from, soak, approvals, window)");
        // Overriding another gate than the failing one still refuses.
        assertThat(refused(as("dave"), v1, "prod", Map.of("soak", "CVE")))
                .filteredOn(GateResult::blocks)
                .extracting(GateResult::gate)
                .containsExactly("window");

        Event e = as("dave")
                .promote(envs, v1, "prod", "CVE-2026-1234 fix", Map.of("window", "CVE-2026-1234 fix"))
                .event();
        assertThat(e.overrides()).containsExactly("window");
        GateResult window = gate(e.gates(), "window");
        assertThat(window.status()).isEqualTo("overridden");
        assertThat(window.evidence()).isEqualTo("now is Fri 2026-11-27 17:30 Europe/Amsterdam");
        assertThat(window.why())
                .startsWith("failed (outside Mon-Thu 09:00-16:00 Europe/Amsterdam;")
                .endsWith("); overridden by dave: CVE-2026-1234 fix");
        assertThat(gate(e.gates(), "soak").status()).isEqualTo("pass");
    }

    @Test
    void aRollbackPointsTheEnvironmentBackAtItsPreviousVersion() throws Exception {
        inDev(v1);
        clock.advance(Duration.ofHours(1));
        inDev(v2);
        clock.advance(Duration.ofHours(1));
        assertThatThrownBy(() -> as("x").rollback("debian-node", "prod", null))
                .hasMessageContaining("prod of debian-node was never promoted");

        Releases.Outcome o = as("bob").rollback("debian-node", "dev", "etcd regression");
        Event e = o.event();
        assertThat(e.type()).isEqualTo("rollback");
        assertThat(e.previousVersion()).isEqualTo("1.0.1");
        assertThat(e.version()).isEqualTo("1.0.0");
        assertThat(e.by()).isEqualTo("bob");
        assertThat(e.reason()).isEqualTo("etcd regression");
        assertThat(gate(e.gates(), "rollback").evidence())
                .isEqualTo("dev had 1.0.0 from 2026-11-23T09:00:00Z (event #1)"
                        + " until 2026-11-23T10:00:00Z (event #2): its gates counted then");
        assertThat(as("x").ledger("debian-node").current("dev").version()).isEqualTo("1.0.0");
        // Time in dev adds up the stays: 1 h before 1.0.1, and since the rollback.
        clock.advance(Duration.ofHours(2));
        assertThat(as("x").ledger("debian-node").timeIn("dev", "1.0.0", clock.instant()))
                .isEqualTo(Duration.ofHours(3));

        // Rolling back again returns to 1.0.1, unless it was revoked meanwhile.
        as("carol").revoke(v2, "bad etcd");
        assertThatThrownBy(() -> as("bob").rollback("debian-node", "dev", null))
                .isInstanceOf(GatesRefusedException.class)
                .hasMessageContaining("revoked (a revoked version is never promoted: bad etcd)");
    }

    @Test
    void aRevokedVersionIsNeverPromotedAndChannelsFlagEnvironmentsStillOnIt() throws Exception {
        inDev(v2);
        Event revocation = as("carol").revoke(v2, "CVE-2026-1234 in containerd");
        assertThat(as("carol").revoke(v2, "again").seq()).isEqualTo(revocation.seq()); // once is enough
        assertThatThrownBy(() -> as("carol").revoke(v1, " ")).hasMessageContaining("a revocation needs --reason");

        Fixtures.validated(store, v2, "kv9", "validated", "qemu-pxe", 1, 2, null);
        List<GateResult> r =
                refused(as("alice"), v2, "prod", Map.of("from", "x", "soak", "x", "approvals", "x", "window", "x"));
        assertThat(gate(r, "revoked").line())
                .isEqualTo("revoked    fail       revoked by carol at 2026-11-23T09:00:00Z (event #2):"
                        + " a revoked version is never promoted: CVE-2026-1234 in containerd");
        assertThat(r)
                .filteredOn(GateResult::blocks)
                .extracting(GateResult::gate)
                .containsExactly("revoked");

        Releases.Channel dev = as("x").channels("debian-node", envs).get(0);
        assertThat(dev.current().version()).isEqualTo("1.0.1");
        assertThat(dev.revocation().reason()).isEqualTo("CVE-2026-1234 in containerd");
    }

    @Test
    void ofTwoConcurrentPromotionsToOneEnvironmentExactlyOneWinsAndTheOtherIsRecordedAsAConflict() throws Exception {
        Fixtures.validated(store, v1, "kv1", "validated", "qemu-pxe", 1, 2, null);
        Fixtures.validated(store, v2, "kv2", "validated", "qemu-pxe", 1, 2, null);
        CyclicBarrier bothRead = new CyclicBarrier(2);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Releases.Outcome>> results = new ArrayList<>();
            for (String[] who : new String[][] {{"alice", "1.0.0"}, {"bob", "1.0.1"}}) {
                Releases r = new Releases(
                        Fixtures.racing(new LocalReleaseStore(store), bothRead),
                        clock,
                        new Identity(who[0], "KILN_ACTOR"),
                        null);
                results.add(pool.submit(
                        () -> r.promote(envs, new ImageRef("debian-node", who[1]), "dev", who[0], Map.of())));
            }
            List<Releases.Outcome> won = new ArrayList<>();
            List<PromotionConflictException> lost = new ArrayList<>();
            for (Future<Releases.Outcome> f : results) {
                try {
                    won.add(f.get());
                } catch (java.util.concurrent.ExecutionException e) {
                    lost.add((PromotionConflictException) e.getCause());
                }
            }
            assertThat(won).hasSize(1);
            assertThat(lost).hasSize(1);
            Event winner = won.get(0).event();
            assertThat(lost.get(0).getMessage())
                    .contains("conflict: dev of debian-node was changed at the same moment by "
                            + winner.by()
                            + " (event #1: promote to "
                            + winner.version())
                    .contains("was NOT promoted");
            List<Event> history = as("x").ledger("debian-node").events();
            assertThat(history)
                    .extracting(Event::seq, Event::type)
                    .containsExactly(
                            org.assertj.core.groups.Tuple.tuple(1L, "promote"),
                            org.assertj.core.groups.Tuple.tuple(2L, "conflict"));
            assertThat(history.get(1).lostTo()).isEqualTo(1L);
            assertThat(history.get(1).version()).isNotEqualTo(winner.version());
            assertThat(as("x").ledger("debian-node").current("dev").version()).isEqualTo(winner.version());
        } finally {
            pool.shutdownNow();
        }
    }
}
