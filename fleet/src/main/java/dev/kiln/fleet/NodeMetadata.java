package dev.kiln.fleet;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The metadata document of one node: flat string keys and values, so the node agent (POSIX sh + jq)
 * reads any field with {@code jq -r .key}, and image placeholders map straight onto keys.
 */
public final class NodeMetadata {
    /**
     * Keys kiln fills in, here and in {@link ClusterSecrets} (bootstrap material); inventory {@code
     * metadata} may add keys but not redefine these.
     */
    public static final Set<String> BUILT_IN = Set.of(
            "name",
            "domain",
            "fqdn",
            "role",
            "address",
            "mac",
            "cluster",
            "masterAddr",
            "nodes",
            "nodeAddresses",
            "masters",
            "etcdInitialCluster",
            "image",
            "imageVersion",
            "waitTimeout",
            "server",
            "caCert",
            "caCertHash",
            "bootstrapToken",
            "caKey",
            "certificateKey");

    private NodeMetadata() {}

    /**
     * @param serverUrl the public base URL of kiln serve, as the node reaches it
     */
    public static Map<String, String> of(Inventory inventory, Inventory.Member member, String serverUrl) {
        List<Inventory.Member> cluster = inventory.clusterOf(member);
        List<Inventory.Member> masters =
                cluster.stream().filter(Inventory.Member::isMaster).toList();
        Inventory.Cluster c = member.cluster();
        String domain = c.domain() == null ? "" : c.domain();
        Map<String, String> doc = new LinkedHashMap<>();
        doc.put("name", member.name());
        doc.put("domain", domain);
        doc.put("fqdn", domain.isEmpty() ? member.name() : member.name() + "." + domain);
        doc.put("role", member.bootstrapRole());
        doc.put("address", member.node().address());
        doc.put("mac", member.mac());
        doc.put("cluster", c.name());
        doc.put("masterAddr", masters.get(0).node().address());
        doc.put("nodes", cluster.stream().map(Inventory.Member::name).collect(Collectors.joining(" ")));
        doc.put("nodeAddresses", cluster.stream().map(m -> m.node().address()).collect(Collectors.joining(" ")));
        doc.put("masters", masters.stream().map(Inventory.Member::name).collect(Collectors.joining(" ")));
        doc.put(
                "etcdInitialCluster",
                masters.stream()
                        .map(m -> m.name() + "=http://" + urlHost(m.node().address()) + ":2380")
                        .collect(Collectors.joining(",")));
        doc.put("image", member.image().toString());
        doc.put("imageVersion", member.image().version());
        doc.put("waitTimeout", Integer.toString(c.effectiveWaitTimeout()));
        doc.put("server", serverUrl);
        // Extra keys: the cluster's, then the node's (the node wins). The loader refused built-in
        // names.
        if (c.metadata() != null) {
            doc.putAll(c.metadata());
        }
        if (member.node().metadata() != null) {
            doc.putAll(member.node().metadata());
        }
        return doc;
    }

    /** IPv6 literals need brackets inside URLs. */
    static String urlHost(String address) {
        return address.contains(":") ? "[" + address + "]" : address;
    }
}
