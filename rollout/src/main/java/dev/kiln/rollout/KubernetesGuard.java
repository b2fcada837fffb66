package dev.kiln.rollout;

import dev.kiln.fleet.ClusterCa;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import dev.kiln.rollout.k8s.AdminCredentials;
import dev.kiln.rollout.k8s.DrainResult;
import dev.kiln.rollout.k8s.KubernetesDrain;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * Kubernetes safety for kubeadm images (k8s-node): a node is cordoned and its pods evicted through
 * the Eviction API, respecting PodDisruptionBudgets, before it goes down; it is back when its Node
 * is Ready again. kiln talks to the cluster's API server with an admin certificate it mints from the
 * cluster CA it already holds. NEVER RAN against a real API server (none can be installed where
 * kiln is developed); its parts are tested without one. etcd on kubeadm masters wants client TLS,
 * which kiln's etcd gateway does not speak yet: masters get no etcd member handling here.
 */
final class KubernetesGuard implements ClusterGuard {
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(15);

    private final KilnServer server;
    private final String cluster;

    KubernetesGuard(KilnServer server, String cluster) {
        this.server = server;
        this.cluster = cluster;
    }

    private KubernetesDrain client(Plan.Node except) throws IOException {
        ClusterCa ca = ClusterCa.read(server.state(), cluster)
                .orElseThrow(() -> new IOException("kiln serve holds no CA of cluster " + cluster
                        + " yet (its nodes never fetched metadata): cannot reach its API server"));
        Inventory.Member master = server.inventory().members().stream()
                .filter(m -> m.cluster().name().equals(cluster) && m.isMaster())
                .filter(m -> except == null || !m.name().equals(except.name()))
                .findFirst()
                .orElseThrow(() -> new IOException("cluster " + cluster + " has no other master to ask"));
        String host = master.node().address().contains(":")
                ? "[" + master.node().address() + "]"
                : master.node().address();
        return new KubernetesDrain(
                URI.create("https://" + host + ":6443"),
                ca.certPem(),
                AdminCredentials.mint(ca.certPem(), ca.keyPem()),
                REQUEST_TIMEOUT);
    }

    @Override
    public List<String> blockers(List<Plan.Node> masters) {
        return List.of();
    }

    @Override
    public String preflight(Plan.Node node) throws InterruptedException {
        try (KubernetesDrain k = client(node)) {
            return k.ready(node.name()) ? null : "Kubernetes node " + node.name() + " is not Ready";
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    @Override
    public String drain(Plan.Node node, Duration timeout, boolean force)
            throws IOException, InterruptedException, DrainBlocked {
        try (KubernetesDrain k = client(node)) {
            DrainResult r = k.drain(node.name(), timeout);
            if (!r.drained() && !force) {
                throw new DrainBlocked(r.summary());
            }
            return r.summary();
        }
    }

    @Override
    public String rejoined(Plan.Node node) throws InterruptedException {
        try (KubernetesDrain k = client(node)) {
            if (!k.ready(node.name())) {
                return "waiting for Kubernetes node " + node.name() + " to be Ready";
            }
            k.uncordon(node.name());
            return null;
        } catch (IOException e) {
            return "waiting for the API server: " + e.getMessage();
        }
    }

    @Override
    public String drainPlan(boolean master) {
        return "cordon, then evict its pods respecting PodDisruptionBudgets (--drain-timeout, --force-drain)";
    }
}
