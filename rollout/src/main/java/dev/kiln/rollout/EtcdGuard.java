package dev.kiln.rollout;

import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.rollout.etcd.EtcdGateway;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * etcd safety for clusters whose masters run etcd (debian-node): before a master goes down the
 * cluster must be healthy and keep quorum without it; its leadership is moved away and its member
 * removed, so the replacement joins as a new member (its RAM root has no data) instead of a stale
 * one; it is back when its new member has started and the cluster is healthy again.
 */
final class EtcdGuard implements ClusterGuard {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    private final KilnServer server;
    private final String cluster;

    EtcdGuard(KilnServer server, String cluster) {
        this.server = server;
        this.cluster = cluster;
    }

    private List<Inventory.Member> masters() {
        return server.inventory().members().stream()
                .filter(m -> m.cluster().name().equals(cluster) && m.isMaster())
                .toList();
    }

    private EtcdGateway gateway() {
        List<URI> endpoints = new ArrayList<>();
        for (Inventory.Member m : masters()) {
            endpoints.add(URI.create("http://" + host(m.node().address()) + ":2379"));
        }
        return new EtcdGateway(endpoints, TIMEOUT);
    }

    private static String host(String address) {
        return address.contains(":") ? "[" + address + "]" : address;
    }

    private static String peer(Plan.Node node) {
        return "http://" + host(node.address()) + ":2380";
    }

    private static Optional<EtcdGateway.Member> memberOf(List<EtcdGateway.Member> members, Plan.Node node) {
        return members.stream()
                .filter(m -> m.peerUrls().contains(peer(node)) || m.name().equals(node.name()))
                .findFirst();
    }

    @Override
    public List<String> blockers(List<Plan.Node> masters) {
        if (masters.isEmpty() || masters.stream().noneMatch(m -> server.hasBooted(m.mac()))) {
            return List.of(); // a cluster being brought up has no etcd yet
        }
        EtcdGateway.Health h = gateway().health();
        List<String> out = new ArrayList<>(h.problems());
        if (h.ok()) {
            EtcdGateway.quorumBlocker(h.members().size(), h.healthy().size() - 1)
                    .ifPresent(out::add);
        }
        return out;
    }

    /**
     * The cluster's health, asked again for up to half a minute while it is not ok: right after a
     * member joined, one status call may time out or see no leader yet.
     */
    private EtcdGateway.Health settledHealth() throws InterruptedException {
        EtcdGateway etcd = gateway();
        EtcdGateway.Health h = etcd.health();
        for (int i = 0; i < 10 && !h.ok(); i++) {
            Thread.sleep(3000);
            h = etcd.health();
        }
        return h;
    }

    @Override
    public String preflight(Plan.Node node) throws InterruptedException {
        if (!"master".equals(node.role())) {
            return null;
        }
        EtcdGateway.Health h = settledHealth();
        if (!h.ok()) {
            return "etcd is not healthy: " + String.join("; ", h.problems());
        }
        Optional<EtcdGateway.Member> me = memberOf(h.members(), node);
        if (me.isEmpty()) {
            // Removed already (a resumed drain), or never joined: its removal costs nothing.
            return EtcdGateway.quorumBlocker(h.members().size() + 1, h.healthy().size())
                    .orElse(null);
        }
        return h.removalBlocker(me.get().id()).orElse(null);
    }

    @Override
    public String drain(Plan.Node node, Duration timeout, boolean force) throws IOException, InterruptedException {
        if (!"master".equals(node.role())) {
            return "nothing to drain: no Kubernetes on this image";
        }
        EtcdGateway etcd = gateway();
        Optional<EtcdGateway.Member> me = memberOf(etcd.members(), node);
        if (me.isEmpty()) {
            return "its etcd member is already gone";
        }
        List<String> done = new ArrayList<>();
        Optional<EtcdGateway.Member> leader = etcd.leader();
        if (leader.isPresent() && leader.get().id().equals(me.get().id())) {
            EtcdGateway.Health h = etcd.health();
            String to = h.healthy().stream()
                    .filter(id -> !id.equals(me.get().id()))
                    .findFirst()
                    .orElseThrow(() -> new IOException(
                            "cannot move etcd leadership away from " + node.name() + ": no other healthy member"));
            etcd.moveLeader(URI.create(leader.get().clientUrls().get(0)), to);
            done.add("moved etcd leadership to "
                    + h.members().stream()
                            .filter(m -> m.id().equals(to))
                            .map(EtcdGateway.Member::name)
                            .findFirst()
                            .orElse(to));
        }
        etcd.removeMember(me.get().id());
        done.add("removed etcd member " + me.get().label());
        return String.join("; ", done);
    }

    @Override
    public String rejoined(Plan.Node node) {
        if (!"master".equals(node.role())) {
            return null;
        }
        EtcdGateway.Health h = gateway().health();
        Optional<EtcdGateway.Member> me = memberOf(h.members(), node);
        if (me.isEmpty() || !me.get().started()) {
            return "waiting for its new etcd member to start";
        }
        return h.ok() ? null : "waiting for etcd to be healthy: " + String.join("; ", h.problems());
    }

    @Override
    public String drainPlan(boolean master) {
        return master
                ? "move etcd leadership away if it leads, then remove its member"
                : "nothing to drain (no Kubernetes on this image)";
    }

    @Override
    public String joinThrough(Plan.Node node, List<Plan.Node> masters) {
        // Any healthy member accepts "member add"; prefer the leader's address when known.
        return masters.stream()
                .filter(m -> !m.name().equals(node.name()))
                .map(Plan.Node::address)
                .findFirst()
                .orElse(null);
    }
}
