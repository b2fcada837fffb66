package dev.kiln.fleet;

import dev.kiln.core.json.Json;
import dev.kiln.core.store.ChannelResolver;
import dev.kiln.core.store.ImageRef;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which machine (by MAC) is which node of which cluster, and which image version it boots.
 * Immutable: {@link InventoryWatcher} swaps in a new one when the file changes. Loaded and checked
 * by {@link InventoryLoader}, so every instance is valid.
 */
public final class Inventory {
    /** Seconds the first master waits for the other nodes when the cluster does not say. */
    public static final int DEFAULT_WAIT_TIMEOUT = 300;

    private final Path file;
    private final List<Member> members;
    private final Map<String, Member> byMac;
    private final ChannelResolver.State channels;

    Inventory(Path file, List<Member> members) {
        this(file, members, ChannelResolver.State.EMPTY);
    }

    Inventory(Path file, List<Member> members, ChannelResolver.State channels) {
        this.file = file;
        this.members = List.copyOf(members);
        Map<String, Member> index = new LinkedHashMap<>();
        members.forEach(m -> index.put(m.mac(), m));
        this.byMac = Map.copyOf(index);
        this.channels = channels;
    }

    /** The same nodes with newer channel records (a revocation since the file was loaded). */
    Inventory withChannels(ChannelResolver.State newer) {
        return new Inventory(file, members, newer);
    }

    /** The channels and revocations as last read (kiln promote, kiln revoke). */
    public ChannelResolver.State channels() {
        return channels;
    }

    /**
     * The YAML file as written:
     *
     * <pre>
     * clusters:
     *   - name: lab                        # [a-z0-9-], unique
     *     domain: lab.example              # optional; fqdn = name.domain
     *     image: debian-node:1.0.0-1       # default NAME:VERSION for the nodes; must be in the store
     *                                      # or NAME@ENV: the version environment ENV points at
     *     waitTimeout: 180                 # optional, seconds the first master waits for the others
     *     metadata: {key: value}           # optional, added to every node's metadata
     *     nodes:
     *       - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15,
     *          image: NAME:VERSION, metadata: {key: value},   # image, metadata optional
     *          bmc: {driver: ipmi, address: 10.0.9.11, user: admin, passwordFile: /etc/kiln/bmc.pass}}
     *   - name: cloud                      # a cluster of EC2 instances: nodes need no mac (one is
     *     image: debian-node@prod          # derived from cluster and node name) and no bmc
     *     aws: {region: eu-west-1, subnetId: subnet-0abc, securityGroupIds: [sg-0abc],
     *           instanceType: m6i.large, iamInstanceProfile: kiln-node, keyName: ops,  # last three optional
     *           pools: [{name: workers-a, autoScalingGroup: cloud-workers-a}]}
     *     nodes:
     *       - {name: m1, role: master, address: 10.1.0.10}
     * </pre>
     *
     * The first master of a cluster initializes it. Required fields are checked by the loader, not
     * by Jackson: Jackson would report a misspelled required field as missing instead of unknown.
     */
    public record Document(List<Cluster> clusters) {
        /**
         * Writes a generated inventory (kiln validate's, kiln lab's) as YAML kiln serve loads;
         * unset fields are left out.
         */
        public void write(java.nio.file.Path file) throws java.io.IOException {
            Json.YAML
                    .copy()
                    .setSerializationInclusion(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
                    .writeValue(file.toFile(), this);
        }
    }

    public record Cluster(
            String name,
            String domain,
            String image,
            Integer waitTimeout,
            Map<String, String> metadata,
            List<Node> nodes,
            Aws aws) {

        public Cluster(
                String name,
                String domain,
                String image,
                Integer waitTimeout,
                Map<String, String> metadata,
                List<Node> nodes) {
            this(name, domain, image, waitTimeout, metadata, nodes, null);
        }

        public int effectiveWaitTimeout() {
            return waitTimeout == null ? DEFAULT_WAIT_TIMEOUT : waitTimeout;
        }
    }

    public record Node(
            String mac, String name, String role, String address, String image, Map<String, String> metadata, Bmc bmc) {

        public Node(String mac, String name, String role, String address, String image, Map<String, String> metadata) {
            this(mac, name, role, address, image, metadata, null);
        }
    }

    /**
     * Where a cluster runs on AWS: its nodes are EC2 instances launched from the image's AMI, each
     * at its node's fixed private address, with its metadata document as user data. A plain record
     * so that kiln serve needs no AWS SDK; the rollout module launches and replaces the instances.
     *
     * @param iamInstanceProfile optional, the profile's name or ARN
     * @param keyName optional, an EC2 key pair for SSH
     * @param pools optional, the cluster's worker pools in Auto Scaling groups (kiln rollout --pool)
     */
    public record Aws(
            String region,
            String subnetId,
            List<String> securityGroupIds,
            String instanceType,
            String iamInstanceProfile,
            String keyName,
            List<Pool> pools) {
        public Aws(
                String region,
                String subnetId,
                List<String> securityGroupIds,
                String instanceType,
                String iamInstanceProfile,
                String keyName) {
            this(region, subnetId, securityGroupIds, instanceType, iamInstanceProfile, keyName, null);
        }

        /** The pool of this name, or null. */
        public Pool pool(String name) {
            return pools == null
                    ? null
                    : pools.stream()
                            .filter(p -> p.name().equals(name))
                            .findFirst()
                            .orElse(null);
        }
    }

    /**
     * A worker pool of an EC2 cluster: an Auto Scaling group whose launch template kiln moves to a
     * new AMI. Its instances have no node entry (they come and go with the group).
     *
     * @param name how kiln rollout --pool names it
     * @param autoScalingGroup the group's name, in the cluster's region
     */
    public record Pool(String name, String autoScalingGroup) {}

    /**
     * How to reach a node's power: its BMC (driver ipmi, redfish or manual; the password only from
     * a file or an environment variable). A plain record so that kiln serve needs no BMC code; the
     * machines module maps it to a driver.
     */
    public record Bmc(
            String driver,
            String address,
            String user,
            String passwordFile,
            String passwordEnv,
            /* Only so the loader can refuse it with where it belongs; never printed. */
            String password,
            String systemId,
            String caFile,
            Boolean insecure,
            /* ipmi: the RMCP+ cipher suite (ipmitool -C); null = ask the BMC which it offers. */
            Integer cipherSuite) {

        /** Never the password, whatever was written. */
        @Override
        public String toString() {
            return "Bmc[driver="
                    + driver
                    + ", address="
                    + address
                    + ", user="
                    + user
                    + ", passwordFile="
                    + passwordFile
                    + ", passwordEnv="
                    + passwordEnv
                    + ", systemId="
                    + systemId
                    + ", caFile="
                    + caFile
                    + ", insecure="
                    + insecure
                    + ", cipherSuite="
                    + cipherSuite
                    + "]";
        }
    }

    /**
     * A node with what follows from its place in the inventory: canonical MAC, effective image, and
     * bootstrap role (the first master of a cluster creates it, the others join).
     *
     * @param channel NAME@ENV when the inventory names a channel ({@code image} is then what it
     *     resolved to), else null
     */
    public record Member(String mac, Node node, Cluster cluster, ImageRef image, String bootstrapRole, String channel) {
        public Member(String mac, Node node, Cluster cluster, ImageRef image, String bootstrapRole) {
            this(mac, node, cluster, image, bootstrapRole, null);
        }

        public String name() {
            return node.name();
        }

        public boolean isMaster() {
            return "master".equals(node.role());
        }
    }

    public Path file() {
        return file;
    }

    /** Every node, in file order. */
    public List<Member> members() {
        return members;
    }

    /** The node with this MAC (any spelling), or null. */
    public Member member(String mac) {
        String canonical = MacAddress.normalize(mac);
        return canonical == null ? null : byMac.get(canonical);
    }

    /** The nodes of a member's cluster, in file order. */
    public List<Member> clusterOf(Member member) {
        return members.stream()
                .filter(m -> m.cluster().name().equals(member.cluster().name()))
                .toList();
    }

    public long clusterCount() {
        return members.stream().map(Member::cluster).distinct().count();
    }
}
