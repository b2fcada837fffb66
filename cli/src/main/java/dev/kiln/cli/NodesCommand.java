package dev.kiln.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.json.Json;
import dev.kiln.core.node.AgentStep;
import dev.kiln.fleet.NodeView;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
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
            "REPORTED is marked * when it differs from ASSIGNED (not replaced yet).",
            "A node assigned a channel (NAME@ENV) shows it in CHANNEL, and in ASSIGNED",
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
    @Option(
            names = "--server",
            paramLabel = "URL",
            description = "kiln serve to ask (default: $KILN_SERVER or http://127.0.0.1:8080).")
    String server;

    @Option(
            names = "--json",
            description = "Print the nodes as JSON (kiln serve's /nodes documents) instead of a table.")
    boolean json;

    @Option(
            names = "--token",
            paramLabel = "TOKEN",
            description =
                    "The operator token (default: $KILN_TOKEN, else, for a server on this machine, STATE/operator-token).")
    String token;

    @Option(
            names = "--state",
            paramLabel = "DIR",
            description = "kiln serve's state directory to read the token from (default: as kiln serve's).")
    java.nio.file.Path state;

    @Override
    public Integer call() throws Exception {
        String base = server != null ? server : System.getenv().getOrDefault("KILN_SERVER", "http://127.0.0.1:8080");
        base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        HttpResponse<String> r;
        try {
            String credential = token != null ? token : System.getenv("KILN_TOKEN");
            String host = URI.create(base).getHost();
            boolean local =
                    host != null && (host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]"));
            if ((credential == null || credential.isBlank()) && (local || state != null)) {
                // Only to a server on this machine (or with --state said): this machine's token is
                // no business of another's.
                credential = dev.kiln.fleet.OperatorAuth.readToken(
                        state != null ? state : dev.kiln.fleet.StateDir.defaultDir());
            }
            HttpRequest.Builder req =
                    HttpRequest.newBuilder(URI.create(base + "/nodes")).timeout(Duration.ofSeconds(10));
            if (credential != null && !credential.isBlank()) {
                req.header("Authorization", "Bearer " + credential.trim());
            }
            r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            throw new IOException(
                    "cannot reach kiln serve at " + base + " (is it running? --server or $KILN_SERVER sets where)");
        }
        if (r.statusCode() == 401) {
            throw new IOException("GET "
                    + base
                    + "/nodes: 401, the operator token is missing or wrong: pass --token or"
                    + " $KILN_TOKEN (it is in operator-token in kiln serve's state directory)");
        }
        if (r.statusCode() != 200) {
            throw new IOException("GET " + base + "/nodes: HTTP " + r.statusCode() + " "
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
                            "MAC", "NAME", "ROLE", "CHANNEL", "ASSIGNED", "REPORTED", "KERNEL", "STEP", "AGE"
                        }
                        : new String[] {"MAC", "NAME", "ROLE", "ASSIGNED", "REPORTED", "KERNEL", "STEP", "AGE"});
        boolean mismatch = false;
        for (NodeView n : nodes) {
            String reported = n.reportedImage() == null ? "-" : n.reportedImage();
            if (n.reportedImage() != null && !n.reportedImage().equals(n.assignedImage())) {
                reported += "*";
                mismatch = true;
            }
            String[] row = {
                n.mac(),
                n.cluster() + "/" + n.name(),
                n.bootstrapRole(),
                n.assignedImage(),
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
            System.out.println("* runs another image than the inventory assigns");
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
