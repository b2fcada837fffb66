package dev.kiln.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.json.Json;
import dev.kiln.core.node.AgentStep;
import dev.kiln.fleet.NodeView;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "nodes",
        mixinStandardHelpOptions = true,
        description = {
            "Lists the nodes of a running kiln serve and what they report.",
            "Per node: assigned image, the image it reports running, its kernel,",
            "its last boot step and how long ago it reported it.",
            "DESIRED is what the node should run: the inventory's version, or one a",
            "rollout with --to set (shown as \"set by rollout ID\" until the inventory's",
            "version for the node changes). CURRENT is what kiln serve hands the node",
            "now (moved only by kiln rollout; they differ: drifted), REPORTED what the",
            "node says it runs (marked * when it differs from CURRENT).",
            "A node assigned a channel (NAME@ENV) shows it in CHANNEL, and in DESIRED",
            "the version it resolved to.",
            "/nodes is an operator endpoint: the operator token comes from --token,",
            "$KILN_TOKEN, or else the local kiln serve's state directory."
        },
        footer = {
            "",
            "Examples:",
            "  kiln nodes",
            "  KILN_TOKEN=$(ssh boot-server cat .local/state/kiln/serve/operator-token) kiln nodes --server http://10.0.2.2:8080",
            "  kiln nodes --server http://127.0.0.1:9090   # an --admin-listen address needs no token"
        })
final class NodesCommand implements Callable<Integer> {
    @picocli.CommandLine.Mixin
    ServeClient serve;

    @Option(
            names = "--json",
            description = "Print the nodes as JSON (kiln serve's /nodes documents) instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        String base = serve.base();
        ServeClient.Reply r = serve.get("/nodes");
        if (r.status() != 200) {
            throw new IOException("GET " + base + "/nodes: HTTP " + r.status() + " "
                    + r.body().trim());
        }
        List<NodeView> nodes = Json.MAPPER.readValue(r.body(), new TypeReference<List<NodeView>>() {});
        if (json) {
            Format.json(nodes);
            return 0;
        }
        if (nodes.isEmpty()) {
            System.out.println("no nodes in the inventory of " + base);
            return 0;
        }
        List<String[]> rows = new ArrayList<>();
        boolean channels = nodes.stream().anyMatch(n -> n.channel() != null);
        rows.add(
                channels
                        ? new String[] {
                            "MAC", "NAME", "ROLE", "CHANNEL", "DESIRED", "CURRENT", "REPORTED", "KERNEL", "STEP", "AGE"
                        }
                        : new String[] {"MAC", "NAME", "ROLE", "DESIRED", "CURRENT", "REPORTED", "KERNEL", "STEP", "AGE"
                        });
        boolean mismatch = false;
        boolean drift = false;
        for (NodeView n : nodes) {
            String reported = n.reportedImage() == null ? "-" : n.reportedImage();
            if (n.reportedImage() != null
                    && !n.reportedImage().equals(n.currentImage() != null ? n.currentImage() : n.assignedImage())) {
                reported += "*";
                mismatch = true;
            }
            String current = dash(n.currentImage());
            if (n.drifted()) {
                current += " (drifted)";
                drift = true;
            }
            String[] row = {
                n.mac(),
                n.cluster() + "/" + n.name(),
                n.bootstrapRole(),
                n.desiredSetBy() == null
                        ? n.assignedImage()
                        : n.desiredImage() + " (set by rollout " + n.desiredSetBy() + ")",
                current,
                reported,
                dash(n.kernel()),
                dash(n.step()),
                n.ageSeconds() == null ? "-" : age(n.ageSeconds())
            };
            if (channels) {
                List<String> withChannel = new ArrayList<>(List.of(row));
                withChannel.add(3, dash(n.channel()));
                row = withChannel.toArray(new String[0]);
            }
            rows.add(row);
        }
        Format.table(rows).forEach(System.out::println);
        if (mismatch) {
            System.out.println("* runs another image than kiln serve gave it");
        }
        if (drift) {
            System.out.println("drifted: the node should run another version than it boots; it moves"
                    + " only through kiln rollout (a reboot keeps its current version)");
        }
        for (NodeView n : nodes) {
            if (AgentStep.FAILED.is(n.step())) {
                System.out.println(n.cluster() + "/" + n.name() + " failed: " + dash(n.detail()));
            }
        }
        return 0;
    }

    private static String dash(String s) {
        return s == null || s.isEmpty() ? "-" : s;
    }

    /** 42s, 5m, 3h, 2d: enough to tell a fresh report from a stale one. */
    static String age(long seconds) {
        if (seconds < 120) {
            return seconds + "s";
        }
        if (seconds < 2 * 3600) {
            return seconds / 60 + "m";
        }
        if (seconds < 2 * 86400) {
            return seconds / 3600 + "h";
        }
        return seconds / 86400 + "d";
    }
}
