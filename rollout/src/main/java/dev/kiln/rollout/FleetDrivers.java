package dev.kiln.rollout;

import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * The drivers kiln serve's controller uses: which machines replace a cluster's nodes (BMCs, or the
 * simulation) and what keeps the cluster safe (etcd on images that run it).
 */
public final class FleetDrivers implements RolloutController.Drivers, AutoCloseable {
    /** How long one BMC request may take. */
    static final Duration BMC_TIMEOUT = Duration.ofSeconds(20);

    private final KilnServer server;
    private final SimulatedMachines simulated;
    private final dev.kiln.aws.AwsSettings awsSettings;
    private dev.kiln.aws.AwsClients aws;
    private boolean ownClients = true;

    /**
     * @param simulated every machine is simulated (kiln serve --simulate-machines), or null
     */
    public FleetDrivers(KilnServer server, SimulatedMachines simulated) {
        this(server, simulated, dev.kiln.aws.AwsSettings.defaults());
    }

    /**
     * @param awsSettings credentials and endpoint for clusters on EC2 (each cluster names its
     *     region)
     */
    public FleetDrivers(KilnServer server, SimulatedMachines simulated, dev.kiln.aws.AwsSettings awsSettings) {
        this.server = server;
        this.simulated = simulated;
        this.awsSettings = awsSettings;
    }

    /**
     * @param aws ready clients for the EC2 clusters, which the caller keeps and closes (an embedder
     *     with its own SDK configuration)
     */
    public FleetDrivers(KilnServer server, SimulatedMachines simulated, dev.kiln.aws.AwsClients aws) {
        this(server, simulated, aws.settings());
        this.aws = aws;
        this.ownClients = false;
    }

    /** The cluster's aws: entry, or null for bare metal. */
    private Inventory.Aws awsOf(String cluster) {
        return server.inventory().members().stream()
                .filter(m -> m.cluster().name().equals(cluster))
                .map(m -> m.cluster().aws())
                .filter(java.util.Objects::nonNull)
                .findFirst()
                .orElse(null);
    }

    private synchronized dev.kiln.aws.AwsClients aws() {
        if (aws == null) {
            aws = new dev.kiln.aws.AwsClients(awsSettings, 4);
        }
        return aws;
    }

    @Override
    public boolean networkBoot(String cluster) {
        return simulated != null || awsOf(cluster) == null;
    }

    /** On EC2, the target's AMI in the cluster's region: from published.json or the SSM channel. */
    @Override
    public String artifact(String cluster, dev.kiln.core.store.ImageRef to) throws IOException {
        Inventory.Aws a = simulated == null ? awsOf(cluster) : null;
        if (a == null) {
            return null;
        }
        String channel = server.inventory().members().stream()
                .filter(m -> m.cluster().name().equals(cluster)
                        && m.channel() != null
                        && m.image().equals(to))
                .map(Inventory.Member::channel)
                .findFirst()
                .orElse(null);
        return new dev.kiln.rollout.ec2.AmiResolver(server.store(), aws()).resolve(to, channel, a.region());
    }

    @Override
    public NodeReplacer replacer(String cluster, String rolloutId) {
        if (simulated != null) {
            return simulated; // its close() is NodeReplacer's no-op: one simulation serves every call
        }
        Inventory.Aws a = awsOf(cluster);
        if (a != null) {
            return new dev.kiln.rollout.ec2.Ec2Replacer(
                    a,
                    aws().ec2(software.amazon.awssdk.regions.Region.of(a.region())),
                    dev.kiln.rollout.ec2.Ec2UserData.source(server::metadataOf, server.publicUrl(), server::token),
                    rolloutId);
        }
        return new BmcReplacer(server, BMC_TIMEOUT);
    }

    @Override
    public dev.kiln.rollout.ec2.AsgPool pool(String cluster, String pool) throws IOException {
        Inventory.Aws a = awsOf(cluster);
        Inventory.Pool p = a == null ? null : a.pool(pool);
        if (p == null) {
            throw new IOException("cluster " + cluster + " has no pool '" + pool + "' in its aws: entry");
        }
        software.amazon.awssdk.regions.Region region = software.amazon.awssdk.regions.Region.of(a.region());
        return new dev.kiln.rollout.ec2.AsgPool(
                aws().autoScaling(region), aws().ec2(region), p.autoScalingGroup(), a.region());
    }

    @Override
    public synchronized void close() {
        if (aws != null && ownClients) {
            aws.close();
        }
    }

    @Override
    public ClusterGuard guard(String cluster, Manifest target) {
        if (simulated != null || target == null || target.components() == null) {
            return ClusterGuard.NONE;
        }
        List<Inventory.Member> masters = server.inventory().members().stream()
                .filter(m -> m.cluster().name().equals(cluster) && m.isMaster())
                .toList();
        if (target.components().containsKey("kubeadm") || target.components().containsKey("kubelet")) {
            return new KubernetesGuard(server, cluster);
        }
        if (target.components().containsKey("etcd") && !masters.isEmpty()) {
            return new EtcdGuard(server, cluster);
        }
        return ClusterGuard.NONE;
    }
}
