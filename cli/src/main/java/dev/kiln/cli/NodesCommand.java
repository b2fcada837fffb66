package dev.kiln.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.store.ImageStore;
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

@Command(name = "nodes", mixinStandardHelpOptions = true,
        description = {"Lists the nodes of a running kiln serve and what they report.",
                "Per node: assigned image, the image it reports running, its kernel,",
                "its last boot step and how long ago it reported it.",
                "REPORTED is marked * when it differs from ASSIGNED (not replaced yet)."},
        footer = {"", "Examples:", "  kiln nodes", "  kiln nodes --server http://10.0.2.2:8080"})
final class NodesCommand implements Callable<Integer> {
    @Option(names = "--server", paramLabel = "URL",
            description = "kiln serve to ask (default: $KILN_SERVER or http://127.0.0.1:8080).")
    String server;

    @Override
    public Integer call() throws Exception {
        String base = server != null ? server : System.getenv().getOrDefault("KILN_SERVER", "http://127.0.0.1:8080");
        base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> r;
        try {
            r = http.send(HttpRequest.newBuilder(URI.create(base + "/nodes")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            throw new IOException("cannot reach kiln serve at " + base + " (is it running? --server or $KILN_SERVER sets where)");
        }
        if (r.statusCode() != 200) {
            throw new IOException("GET " + base + "/nodes: HTTP " + r.statusCode() + " " + r.body().trim());
        }
        List<NodeView> nodes = ImageStore.JSON.readValue(r.body(), new TypeReference<List<NodeView>>() { });
        if (nodes.isEmpty()) {
            System.out.println("no nodes in the inventory of " + base);
            return 0;
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"MAC", "NAME", "ROLE", "ASSIGNED", "REPORTED", "KERNEL", "STEP", "AGE"});
        boolean mismatch = false;
        for (NodeView n : nodes) {
            String reported = n.reportedImage() == null ? "-" : n.reportedImage();
            if (n.reportedImage() != null && !n.reportedImage().equals(n.assignedImage())) {
                reported += "*";
                mismatch = true;
            }
            rows.add(new String[] {n.mac(), n.cluster() + "/" + n.name(), n.bootstrapRole(), n.assignedImage(), reported,
                    dash(n.kernel()), dash(n.step()), n.ageSeconds() == null ? "-" : age(n.ageSeconds())});
        }
        Format.table(rows).forEach(System.out::println);
        if (mismatch) {
            System.out.println("* runs another image than the inventory assigns");
        }
        for (NodeView n : nodes) {
            if ("failed".equals(n.step())) {
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
