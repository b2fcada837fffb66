package dev.kiln.fleet;

import com.fasterxml.jackson.core.JsonLocation;
import dev.kiln.core.node.Placeholders;
import dev.kiln.core.node.Role;
import dev.kiln.core.store.ChannelRef;
import dev.kiln.core.store.ChannelResolver;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.yaml.YamlLocations;
import dev.kiln.core.yaml.YamlProblem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Why: what binding cannot check of a parsed inventory (names, MACs, addresses, roles, images,
 * metadata, bmc) is its own concern, apart from reading and parsing the file in {@link
 * InventoryLoader}. Collects every problem with its file:line and field path, and turns the valid
 * nodes into members.
 */
final class InventoryChecker {
    /** Node and cluster names end up in host names, etcd member names and file names. */
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    private static final Pattern DOMAIN =
            Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*");
    private static final Pattern IPV4 =
            Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");
    private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]+");

    final Path file;
    final YamlLocations locations;
    final ImageSource store;
    final ChannelResolver channels;
    final ChannelResolver.State state;
    final List<YamlProblem> problems = new ArrayList<>();
    final Map<String, Boolean> imageExists = new HashMap<>();

    InventoryChecker(
            Path file,
            YamlLocations locations,
            ImageSource store,
            ChannelResolver channels,
            ChannelResolver.State state) {
        this.file = file;
        this.locations = locations;
        this.store = store;
        this.channels = channels;
        this.state = state;
    }

    void problem(String field, String message) {
        JsonLocation loc = locations.find(field);
        problems.add(new YamlProblem(
                file, loc == null ? 0 : loc.getLineNr(), loc == null ? 0 : loc.getColumnNr(), field, message));
    }

    List<Inventory.Member> check(Inventory.Document doc) {
        List<Inventory.Member> members = new ArrayList<>();
        if (doc.clusters() == null || doc.clusters().isEmpty()) {
            problem("clusters", "expected at least one cluster");
            return members;
        }
        Map<String, String> clusterNames = new HashMap<>();
        Map<String, String> macs = new HashMap<>();
        Map<String, String> addresses = new HashMap<>();
        for (int ci = 0; ci < doc.clusters().size(); ci++) {
            Inventory.Cluster c = doc.clusters().get(ci);
            String cp = "clusters[" + ci + "]";
            if (c == null) {
                problem(cp, "expected a cluster (name, image, nodes)");
                continue;
            }
            if (c.name() == null) {
                problem(cp + ".name", "missing required field");
            } else if (!matches(LABEL, c.name())) {
                problem(
                        cp + ".name",
                        "'" + c.name() + "' is not a valid name (lower-case letters, digits and '-', like lab-1)");
            } else if (clusterNames.putIfAbsent(c.name(), cp) != null) {
                problem(cp + ".name", "cluster '" + c.name() + "' is already defined at " + clusterNames.get(c.name()));
            }
            if (c.domain() != null && (c.domain().length() > 253 || !matches(DOMAIN, c.domain()))) {
                problem(cp + ".domain", "'" + c.domain() + "' is not a valid DNS domain (like lab.example)");
            }
            if (c.waitTimeout() != null && c.waitTimeout() <= 0) {
                problem(cp + ".waitTimeout", "expected a positive number of seconds, got " + c.waitTimeout());
            }
            if (c.image() != null && c.nodes() != null) {
                String users = c.nodes().stream()
                        .filter(n -> n != null && n.image() == null)
                        .map(Inventory.Node::name)
                        .collect(Collectors.joining(", "));
                checkImage(
                        cp + ".image",
                        c.image(),
                        "cluster " + c.name() + (users.isEmpty() ? "" : " (default image of " + users + ")"));
            }
            checkMetadata(cp + ".metadata", c.metadata());
            AwsCheck.check(cp + ".aws", "cluster " + c.name(), c.aws(), this::problem);
            // EC2 nodes have no fixed MAC; kiln serve knows them by one derived from their names.
            boolean onEc2 = c.aws() != null;
            if (c.nodes() == null) {
                problem(cp + ".nodes", "missing required field");
                continue;
            }
            if (c.nodes().isEmpty()) {
                problem(cp + ".nodes", "cluster " + c.name() + " has no nodes");
                continue;
            }
            Map<String, String> nodeNames = new HashMap<>();
            List<Inventory.Node> valid = new ArrayList<>();
            List<String> validMacs = new ArrayList<>();
            List<ImageRef> validImages = new ArrayList<>();
            boolean clusterOk = true;
            for (int ni = 0; ni < c.nodes().size(); ni++) {
                Inventory.Node n = c.nodes().get(ni);
                String np = cp + ".nodes[" + ni + "]";
                if (n == null) {
                    problem(np, "expected a node (mac, name, role, address)");
                    clusterOk = false;
                    continue;
                }
                String who = "node " + n.name() + " (cluster " + c.name() + ")";
                int before = problems.size();
                if ((n.mac() == null && !onEc2) || n.name() == null || n.role() == null || n.address() == null) {
                    for (String[] f : new String[][] {
                        {"mac", onEc2 ? "" : n.mac()},
                        {"name", n.name()},
                        {"role", n.role()},
                        {"address", n.address()}
                    }) {
                        if (f[1] == null) {
                            problem(np + "." + f[0], "missing required field");
                        }
                    }
                    clusterOk = false;
                    continue;
                }
                String mac = n.mac() == null ? MacAddress.derived(c.name(), n.name()) : MacAddress.normalize(n.mac());
                if (mac == null) {
                    problem(
                            np + ".mac",
                            who + ": '" + n.mac() + "' is not a MAC address (expected like 52:54:00:12:34:01)");
                } else if (macs.putIfAbsent(mac, np) != null) {
                    problem(np + ".mac", who + ": MAC " + mac + " is already used by " + macs.get(mac));
                }
                if (!matches(LABEL, n.name())) {
                    problem(
                            np + ".name",
                            "'"
                                    + n.name()
                                    + "' is not a valid node name (lower-case letters, digits and '-', like m1)");
                } else if (nodeNames.putIfAbsent(n.name(), np) != null) {
                    problem(
                            np + ".name",
                            "node name '"
                                    + n.name()
                                    + "' is already used in cluster "
                                    + c.name()
                                    + " by "
                                    + nodeNames.get(n.name()));
                }
                if (!"master".equals(n.role()) && !"worker".equals(n.role())) {
                    problem(np + ".role", who + ": expected role master or worker, got '" + n.role() + "'");
                }
                if (!isIpLiteral(n.address())) {
                    problem(np + ".address", who + ": '" + n.address() + "' is not an IP address");
                } else if (addresses.putIfAbsent(n.address(), np) != null) {
                    problem(
                            np + ".address",
                            who + ": address " + n.address() + " is already used by " + addresses.get(n.address()));
                }
                ImageRef image = null;
                if (n.image() != null) {
                    image = checkImage(np + ".image", n.image(), who);
                } else if (c.image() == null) {
                    problem(np, who + " has no image, and cluster " + c.name() + " has no default 'image'");
                } else {
                    image = checkImage(cp + ".image", c.image(), null);
                }
                checkMetadata(np + ".metadata", n.metadata());
                BmcCheck.check(np + ".bmc", who, n.bmc(), this::problem);
                if (onEc2) {
                    AwsCheck.node(np, who, n, this::problem);
                }
                if (problems.size() == before && image != null) {
                    valid.add(n);
                    validMacs.add(mac);
                    validImages.add(image);
                } else {
                    clusterOk = false;
                }
            }
            if (c.nodes().stream().noneMatch(n -> n != null && "master".equals(n.role()))) {
                problem(cp + ".nodes", "cluster " + c.name() + " has no master; at least one node needs role: master");
                clusterOk = false;
            }
            if (clusterOk) {
                boolean firstMaster = true;
                for (int i = 0; i < valid.size(); i++) {
                    Inventory.Node n = valid.get(i);
                    String role;
                    if ("master".equals(n.role())) {
                        role = (firstMaster ? Role.INIT_MASTER : Role.JOIN_MASTER).wire();
                        firstMaster = false;
                    } else {
                        role = Role.JOIN_WORKER.wire();
                    }
                    String text = n.image() != null ? n.image() : c.image();
                    members.add(new Inventory.Member(
                            validMacs.get(i),
                            n,
                            c,
                            validImages.get(i),
                            role,
                            ChannelRef.isChannel(text) ? ChannelRef.parse(text).toString() : null));
                }
            }
        }
        return members;
    }

    /**
     * @param who for the message when the image is missing; null when the problem was already
     *     reported for the cluster default (so it is not repeated per node)
     */
    ImageRef checkImage(String field, String text, String who) {
        ImageRef ref;
        String via = "";
        try {
            if (ChannelRef.isChannel(text)) {
                ChannelRef channel = ChannelRef.parse(text);
                ChannelResolver.Assignment a = state.resolve(channel);
                if (a == null) {
                    if (who != null) {
                        problem(
                                field,
                                who
                                        + ": channel "
                                        + channel
                                        + " points at no version in "
                                        + channels.describe()
                                        + " (kiln promote "
                                        + channel.name()
                                        + ":VERSION --to "
                                        + channel.env()
                                        + " sets it)");
                    }
                    return null;
                }
                ref = a.version();
                via = "channel " + channel + " points at " + ref + ", but ";
            } else {
                ref = ImageRef.parse(text);
            }
        } catch (IllegalArgumentException e) {
            if (who != null) {
                problem(field, who + ": " + e.getMessage());
            }
            return null;
        }
        if (!ref.name().matches("[a-z0-9-]+")
                || ref.version().contains("/")
                || ref.version().contains("..")) {
            if (who != null) {
                problem(field, who + ": '" + text + "' is not an image reference NAME:VERSION or channel NAME@ENV");
            }
            return null;
        }
        boolean exists = imageExists.computeIfAbsent(ref.toString(), k -> {
            try {
                return store.exists(ref);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        if (!exists) {
            if (who != null) {
                problem(field, who + ": " + via + "image " + ref + " is not in " + store.notFound(ref));
            }
            return null;
        }
        return ref;
    }

    void checkMetadata(String field, Map<String, String> metadata) {
        if (metadata == null) {
            return;
        }
        metadata.forEach((k, v) -> {
            if (!Placeholders.NAME.matcher(k).matches()) {
                problem(
                        field + "." + k,
                        "metadata key '" + k + "' must be a letter followed by letters, digits or '_'");
            } else if (NodeMetadata.BUILT_IN.contains(k)) {
                problem(field + "." + k, "metadata key '" + k + "' is set by kiln serve; choose another name");
            }
            if (v == null) {
                problem(field + "." + k, "expected a string value");
            }
        });
    }

    private static boolean matches(Pattern pattern, String text) {
        return text != null && pattern.matcher(text).matches();
    }

    static boolean isIpLiteral(String address) {
        if (address == null) {
            return false;
        }
        if (IPV4.matcher(address).matches()) {
            return true;
        }
        if (!address.contains(":") || !IPV6_CHARS.matcher(address).matches()) {
            return false;
        }
        try {
            // A string with ':' is parsed as an IPv6 literal; no name lookup happens.
            return InetAddress.getByName(address) instanceof java.net.Inet6Address;
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
