package dev.kiln.release.prune;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.fleet.Inventory;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The versions nodes use: from a running kiln serve (what each node is assigned, was last given in
 * a boot script, and reports running), or, when there is no server to ask, what the inventory files
 * assign. Images are NAME:VERSION or NAME@ENV (an environment's channel, resolved by the caller
 * through the promotion records).
 */
public final class FleetUse {
    /**
     * @param image NAME:VERSION or NAME@ENV; @param why "assigned to cluster/node by kiln serve
     *     http://…"
     */
    public record Use(String image, String why) {}

    private final List<Use> uses;
    private final String source;
    private final boolean checkedServer;

    private FleetUse(List<Use> uses, String source, boolean checkedServer) {
        this.uses = List.copyOf(uses);
        this.source = source;
        this.checkedServer = checkedServer;
    }

    public List<Use> uses() {
        return uses;
    }

    /** For the report: what was asked. */
    public String source() {
        return source;
    }

    /** False when no kiln serve was asked: what nodes run now could not be checked. */
    public boolean checkedServer() {
        return checkedServer;
    }

    /**
     * Asks kiln serve: GET /nodes (assigned and reported versions) and GET /ui/fleet.json (the
     * version it last handed each node, which differs from the assignment until the node reboots).
     * Fails when the server cannot be asked: pruning blind is what --server is there to prevent.
     */
    public static FleetUse fromServer(String server, String token) throws IOException {
        String base = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        List<Use> uses = new ArrayList<>();
        JsonNode nodes = get(http, base, "/nodes", token, true);
        for (JsonNode n : nodes) {
            String node = n.path("cluster").asText() + "/" + n.path("name").asText();
            add(uses, n.path("assignedImage"), "assigned to node " + node + " (kiln serve " + base + ")");
            if (n.path("desiredSetBy").isTextual()) {
                add(
                        uses,
                        n.path("desiredImage"),
                        "desired by node " + node + ", set by rollout "
                                + n.path("desiredSetBy").asText() + " (kiln serve " + base + ")");
            }
            add(uses, n.path("reportedImage"), "node " + node + " reports running it (kiln serve " + base + ")");
        }
        JsonNode fleet = get(http, base, "/ui/fleet.json", token, false);
        if (fleet != null) {
            for (JsonNode c : fleet.path("clusters")) {
                for (JsonNode n : c.path("nodes")) {
                    add(
                            uses,
                            n.path("current"),
                            "kiln serve "
                                    + base
                                    + " last booted node "
                                    + c.path("name").asText()
                                    + "/"
                                    + n.path("name").asText()
                                    + " with it");
                }
            }
        }
        return new FleetUse(uses, "kiln serve " + base, true);
    }

    private static void add(List<Use> uses, JsonNode image, String why) {
        if (image.isTextual() && !image.asText().isBlank()) {
            uses.add(new Use(image.asText(), why));
        }
    }

    static JsonNode get(HttpClient http, String base, String path, String token, boolean required) throws IOException {
        HttpRequest.Builder req =
                HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(20));
        if (token != null && !token.isBlank()) {
            req.header("Authorization", "Bearer " + token.trim());
        }
        HttpResponse<String> r;
        try {
            r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            throw new IOException("cannot reach kiln serve at "
                    + base
                    + " to see what nodes run; prune deletes nothing without"
                    + " knowing (leave out --server to keep what --inventory files assign instead)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted asking " + base + path, e);
        }
        if (r.statusCode() == 401) {
            throw new IOException("GET "
                    + base
                    + path
                    + ": 401, the operator token is missing or wrong: pass --token or"
                    + " $KILN_TOKEN (it is in operator-token in kiln serve's state directory)");
        }
        if (r.statusCode() != 200) {
            if (!required) {
                return null;
            }
            throw new IOException("GET " + base + path + ": HTTP " + r.statusCode() + " "
                    + r.body().trim());
        }
        return Json.MAPPER.readTree(r.body());
    }

    /**
     * What the inventory files assign: each node's image, else its cluster's. Read as kiln serve
     * reads them (strictly), but without checking that the versions exist: a node assigned a
     * version the store lost is no reason to prune nothing.
     */
    public static FleetUse fromInventories(List<Path> files) throws IOException {
        List<Use> uses = new ArrayList<>();
        for (Path f : files) {
            Inventory.Document doc;
            try {
                doc = Json.STRICT_YAML.readValue(Files.readString(f), Inventory.Document.class);
            } catch (NoSuchFileException e) {
                throw new IOException("inventory " + f + " not found (--inventory)");
            } catch (IOException e) {
                throw new IOException(f
                        + " is not a kiln inventory ("
                        + e.getMessage().lines().findFirst().orElse("")
                        + "); kiln serve --inventory "
                        + f
                        + " shows where");
            }
            for (Inventory.Cluster c :
                    doc == null || doc.clusters() == null ? List.<Inventory.Cluster>of() : doc.clusters()) {
                if (c == null) {
                    continue;
                }
                if (c.image() != null) {
                    uses.add(new Use(c.image(), "cluster " + c.name() + "'s image in inventory " + f));
                }
                for (Inventory.Node n : c.nodes() == null ? List.<Inventory.Node>of() : c.nodes()) {
                    if (n != null && n.image() != null) {
                        uses.add(new Use(
                                n.image(), "assigned to node " + c.name() + "/" + n.name() + " in inventory " + f));
                    }
                }
            }
        }
        String source = files.isEmpty()
                ? "no kiln serve (--server) and no --inventory"
                : "the inventories "
                        + String.join(", ", files.stream().map(Path::toString).toList());
        return new FleetUse(uses, source, false);
    }
}
