package dev.kiln.rollout.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.exec.Exec;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** EtcdGateway against a real 3-member etcd 3.4 cluster (Debian's etcd-server) on loopback. */
class EtcdGatewayTest {

    @Test
    void membersStatusHealthAndKeysOfARealCluster() throws Exception {
        try (EtcdTestCluster c = EtcdTestCluster.start(3)) {
            EtcdGateway g = c.gateway();

            List<EtcdGateway.Member> members = g.members();
            assertThat(members).extracting(EtcdGateway.Member::name).containsExactlyInAnyOrder("m1", "m2", "m3");
            for (EtcdGateway.Member m : members) {
                assertThat(m.clientUrls()).containsExactly(c.clientUrl(m.name()).toString());
                assertThat(m.peerUrls()).containsExactly(c.peerUrl(m.name()).toString());
                assertThat(m.learner()).isFalse();
                assertThat(m.id()).matches("[0-9a-f]+");
            }
            // Each member's own status names itself by the id the member list gives it, and all agree on the leader.
            Map<String, String> idByName =
                    members.stream().collect(Collectors.toMap(EtcdGateway.Member::name, EtcdGateway.Member::id));
            String leader = null;
            for (String name : idByName.keySet()) {
                EtcdGateway.Status s = g.status(c.clientUrl(name));
                assertThat(s.memberId()).isEqualTo(idByName.get(name));
                assertThat(s.version()).startsWith("3.4.");
                assertThat(s.raftTerm()).isPositive();
                assertThat(s.raftIndex()).isPositive();
                assertThat(s.errors()).isEmpty();
                assertThat(idByName.values()).contains(s.leaderId());
                leader = leader == null ? s.leaderId() : leader;
                assertThat(s.leaderId()).isEqualTo(leader);
            }
            // etcdctl prints the same hex ids.
            String listed = Exec.of("etcdctl", "--endpoints=" + c.clientUrl("m1"), "member", "list")
                    .env("ETCDCTL_API", "3")
                    .run();
            idByName.values().forEach(id -> assertThat(listed).contains(id));

            EtcdGateway.Health h = g.health();
            assertThat(h.problems()).isEmpty();
            assertThat(h.ok()).isTrue();
            assertThat(h.leaderId()).isEqualTo(leader);
            assertThat(h.healthy()).containsExactlyInAnyOrderElementsOf(idByName.values());
            assertThat(h.removalBlocker(idByName.get("m1"))).isEmpty();
            assertThat(g.leader()).map(EtcdGateway.Member::id).contains(leader);

            // Non-ASCII keys and values go through base64 as their UTF-8 bytes: etcdctl reads them back.
            String key = "/kiln/ключ/雪-ü";
            g.put(key, "värde ✓");
            assertThat(g.get(key)).contains("värde ✓");
            String fromEtcdctl = Exec.of("etcdctl", "--endpoints=" + c.clientUrl("m2"), "get", key)
                    .env("ETCDCTL_API", "3")
                    .run();
            assertThat(fromEtcdctl.lines()).containsExactly(key, "värde ✓");
            Exec.of("etcdctl", "--endpoints=" + c.clientUrl("m3"), "put", "/kiln/from-etcdctl", "ok")
                    .env("ETCDCTL_API", "3")
                    .run();
            assertThat(g.get("/kiln/from-etcdctl")).contains("ok");
            g.put("/kiln/empty", "");
            assertThat(g.get("/kiln/empty")).contains("");
            assertThat(g.get("/kiln/absent")).isEmpty();
        }
    }

    @Test
    void moveLeaderThenRemoveAMember() throws Exception {
        try (EtcdTestCluster c = EtcdTestCluster.start(3)) {
            EtcdGateway g = c.gateway();
            EtcdGateway.Member leader = g.leader().orElseThrow();
            EtcdGateway.Member other = g.members().stream()
                    .filter(m -> !m.id().equals(leader.id()))
                    .findFirst()
                    .orElseThrow();
            EtcdGateway.Member third = g.members().stream()
                    .filter(m -> !m.id().equals(leader.id()) && !m.id().equals(other.id()))
                    .findFirst()
                    .orElseThrow();
            URI leaderUrl = URI.create(leader.clientUrls().get(0));

            // Only the leader may hand leadership over; a follower's refusal names it.
            URI followerUrl = URI.create(third.clientUrls().get(0));
            assertThatThrownBy(() -> g.moveLeader(followerUrl, other.id()))
                    .isInstanceOf(EtcdException.class)
                    .hasMessageContaining("etcd at " + followerUrl)
                    .hasMessageContaining("move leader to " + other.id());

            g.moveLeader(leaderUrl, other.id());
            for (EtcdGateway.Member m : g.members()) {
                assertThat(g.status(URI.create(m.clientUrls().get(0))).leaderId())
                        .as("leader seen by " + m.name())
                        .isEqualTo(other.id());
            }

            // Remove the old leader. A gateway that lists its endpoint first still works through the others.
            g.removeMember(leader.id());
            EtcdGateway removedFirst = new EtcdGateway(
                    List.of(leaderUrl, URI.create(other.clientUrls().get(0))), Duration.ofSeconds(2));
            assertThat(awaitMembers(removedFirst, 2))
                    .extracting(EtcdGateway.Member::name)
                    .containsExactlyInAnyOrder(other.name(), third.name());
            EtcdGateway.Health h = removedFirst.health();
            assertThat(h.problems()).isEmpty();
            assertThat(h.members()).hasSize(2);
            assertThat(h.leaderId()).isEqualTo(other.id());
            // Two members: replacing either would leave one, so the rollout must not.
            assertThat(h.removalBlocker(third.id()))
                    .hasValueSatisfying(
                            b -> assertThat(b).contains("quorum at risk").contains("2 members"));

            assertThatThrownBy(() -> g.removeMember(leader.id()))
                    .isInstanceOf(EtcdException.class)
                    .hasMessageContaining("member remove " + leader.id())
                    .hasMessageContaining("member not found");
        }
    }

    @Test
    void aKilledMemberIsNamedInHealth() throws Exception {
        try (EtcdTestCluster c = EtcdTestCluster.start(3)) {
            EtcdGateway g = c.gateway();
            Map<String, String> idByName =
                    g.members().stream().collect(Collectors.toMap(EtcdGateway.Member::name, EtcdGateway.Member::id));
            c.kill("m2");

            EtcdGateway.Health h = g.health();
            assertThat(h.ok()).isFalse();
            assertThat(h.problems())
                    .containsExactly("etcd member m2 (" + c.clientUrl("m2") + ") does not answer: connection refused");
            assertThat(h.healthy()).containsExactlyInAnyOrder(idByName.get("m1"), idByName.get("m3"));
            // Replacing a healthy member now would leave m2 (down) and one other: no majority.
            assertThat(h.removalBlocker(idByName.get("m1")))
                    .hasValueSatisfying(
                            b -> assertThat(b).contains("quorum at risk").contains("1 healthy"));
            // Replacing the dead one keeps the two healthy members, a majority of two.
            assertThat(h.removalBlocker(idByName.get("m2"))).isEmpty();

            // The dead endpoint listed first is skipped; only dead endpoints name each one.
            EtcdGateway deadFirst =
                    new EtcdGateway(List.of(c.clientUrl("m2"), c.clientUrl("m3")), Duration.ofSeconds(2));
            assertThat(deadFirst.members()).hasSize(3);
            EtcdGateway onlyDead = new EtcdGateway(List.of(c.clientUrl("m2")), Duration.ofSeconds(2));
            assertThatThrownBy(onlyDead::members)
                    .isInstanceOf(EtcdException.class)
                    .hasMessage("no etcd endpoint answered member list: etcd at " + c.clientUrl("m2")
                            + ": member list: connection refused");
            EtcdGateway.Health none = onlyDead.health();
            assertThat(none.ok()).isFalse();
            assertThat(none.problems()).singleElement().asString().contains("no etcd endpoint answered member list");
        }
    }

    @Test
    void quorumRule() {
        // n members, one removed: the healthy ones left must be a strict majority of n-1.
        assertThat(EtcdGateway.removalKeepsQuorum(3, 2)).isTrue();
        assertThat(EtcdGateway.removalKeepsQuorum(3, 1)).isFalse();
        assertThat(EtcdGateway.removalKeepsQuorum(4, 2)).isTrue();
        assertThat(EtcdGateway.removalKeepsQuorum(4, 1)).isFalse();
        assertThat(EtcdGateway.removalKeepsQuorum(5, 3)).isTrue();
        assertThat(EtcdGateway.removalKeepsQuorum(5, 2)).isFalse();
        // 1- and 2-member clusters are always at risk, however healthy.
        assertThat(EtcdGateway.removalKeepsQuorum(2, 1)).isFalse();
        assertThat(EtcdGateway.removalKeepsQuorum(1, 0)).isFalse();
        assertThat(EtcdGateway.quorumBlocker(5, 2))
                .contains("etcd quorum at risk: removing one of 5 members leaves 4, of which 2 healthy; 3 are needed");
        assertThat(EtcdGateway.quorumBlocker(1, 0))
                .contains("etcd quorum at risk: the cluster has 1 member; replacing one needs at least 3");
    }

    @Test
    void memberIdsAreEtcdctlHex() {
        // The high bit set: an unsigned 64-bit id that does not fit a signed long's decimal.
        assertThat(EtcdGateway.hex("10276657743932975437")).isEqualTo("8e9e05c52164694d");
        assertThat(EtcdGateway.decimal("8e9e05c52164694d")).isEqualTo("10276657743932975437");
        EtcdGateway g = new EtcdGateway(List.of(URI.create("http://127.0.0.1:1")), Duration.ofSeconds(1));
        assertThatThrownBy(() -> g.removeMember("m2"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("etcd member id 'm2': expected a hex id");
        assertThatThrownBy(() -> new EtcdGateway(List.of(URI.create("https://x:2379")), Duration.ofSeconds(1)))
                .hasMessageContaining("etcd endpoint https://x:2379: expected http://HOST:PORT");
    }

    private static List<EtcdGateway.Member> awaitMembers(EtcdGateway g, int n) throws Exception {
        // Removal is committed before the call returns, but a follower may apply it a moment later.
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        List<EtcdGateway.Member> m = g.members();
        while (m.size() != n && System.nanoTime() < deadline) {
            Thread.sleep(100);
            m = g.members();
        }
        return m;
    }
}
