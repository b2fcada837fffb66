package dev.kiln.fleet;

import dev.kiln.core.store.ImageRef;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which machine (by MAC) is which node of which cluster, and which image version it boots.
 * Immutable: {@link InventoryWatcher} swaps in a new one when the file changes. Loaded and
 * checked by {@link InventoryLoader}, so every instance is valid.
 */
public final class Inventory {
    /** Bootstrap roles, as the node agent sees them in metadata "role". */
    public static final String INIT_MASTER = "init-master";
    public static final String JOIN_MASTER = "join-master";
    public static final String JOIN_WORKER = "join-worker";
    /** Seconds the first master waits for the other nodes when the cluster does not say. */
    public static final int DEFAULT_WAIT_TIMEOUT = 300;

    private final Path file;
    private final List<Member> members;
    private final Map<String, Member> byMac;

    Inventory(Path file, List<Member> members) {
        this.file = file;
        this.members = List.copyOf(members);
        Map<String, Member> index = new LinkedHashMap<>();
        members.forEach(m -> index.put(m.mac(), m));
        this.byMac = Map.copyOf(index);
    }

    /**
     * The YAML file as written:
     * <pre>
     * clusters:
     *   - name: lab                        # [a-z0-9-], unique
     *     domain: lab.example              # optional; fqdn = name.domain
     *     image: debian-node:1.0.0-1       # default NAME:VERSION for the nodes; must be in the store
     *     waitTimeout: 180                 # optional, seconds the first master waits for the others
     *     metadata: {key: value}           # optional, added to every node's metadata
     *     nodes:
     *       - {mac: "52:54:00:12:34:01", name: m1, role: master, address: 10.0.2.15,
     *          image: NAME:VERSION, metadata: {key: value},   # image, metadata optional
     *          bmc: {driver: ipmi, address: 10.0.9.11, user: admin, passwordFile: /etc/kiln/bmc.pass}}
     * </pre>
     * The first master of a cluster initializes it. Required fields are checked by the loader, not
     * by Jackson: Jackson would report a misspelled required field as missing instead of unknown.
     */
    public record Document(List<Cluster> clusters) { }

    public record Cluster(
            String name,
            String domain,
            String image,
            Integer waitTimeout,
            Map<String, String> metadata,
            List<Node> nodes) {

        public int effectiveWaitTimeout() {
            return waitTimeout == null ? DEFAULT_WAIT_TIMEOUT : waitTimeout;
        }
    }

    public record Node(
            String mac,
            String name,
            String role,
            String address,
            String image,
            Map<String, String> metadata,
            Bmc bmc) {

        public Node(String mac, String name, String role, String address, String image, Map<String, String> metadata) {
            this(mac, name, role, address, image, metadata, null);
        }
    }

    /**
     * How to reach a node's power: its BMC (driver ipmi, redfish or manual; the password only from a file or an environment variable). A plain record so that
     * kiln serve needs no BMC code; the machines module maps it to a driver.
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
            Boolean insecure) {

        /** Never the password, whatever was written. */
        @Override
        public String toString() {
            return "Bmc[driver=" + driver + ", address=" + address + ", user=" + user + ", passwordFile=" + passwordFile
                    + ", passwordEnv=" + passwordEnv + ", systemId=" + systemId + ", caFile=" + caFile
                    + ", insecure=" + insecure + "]";
        }
    }

    /**
     * A node with what follows from its place in the inventory: canonical MAC, effective image,
     * and bootstrap role (the first master of a cluster creates it, the others join).
     */
    public record Member(String mac, Node node, Cluster cluster, ImageRef image, String bootstrapRole) {
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
        return members.stream().filter(m -> m.cluster().name().equals(member.cluster().name())).toList();
    }

    public long clusterCount() {
        return members.stream().map(Member::cluster).distinct().count();
    }
}
