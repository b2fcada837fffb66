package dev.kiln.release.prune;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.store.ImageRef;
import java.io.IOException;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The rollouts of a running kiln serve (GET /rollouts): every version a running, paused or halted
 * rollout still names, its target and the version each of its nodes came from (what a resume hands
 * out, and what a rollback takes nodes back to).
 */
public final class ServerRollouts implements Rollouts {
    /** States in which a rollout may still hand a version to a node. */
    static final Set<String> LIVE = Set.of("running", "paused", "halted");

    private final String base;
    private final String token;
    private Map<ImageRef, String> referenced;
    private boolean noApi;

    public ServerRollouts(String server, String token) {
        this.base = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
        this.token = token;
    }

    /** Asked once per prune: the report and the plan see the same answer. */
    @Override
    public synchronized Map<ImageRef, String> referenced() throws IOException {
        if (referenced == null) {
            referenced = fetch();
        }
        return referenced;
    }

    private Map<ImageRef, String> fetch() throws IOException {
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
        Map<ImageRef, String> out = new LinkedHashMap<>();
        JsonNode all = FleetUse.get(http, base, "/rollouts", token, false);
        if (all == null) {
            noApi = true; // a kiln serve without the rollout engine (embedded in a test or a tool)
            return out;
        }
        for (JsonNode r : all) {
            String state = r.path("state").asText();
            if (!LIVE.contains(state)) {
                continue;
            }
            String why = "rollout " + r.path("id").asText() + " of cluster "
                    + r.path("cluster").asText() + " (" + state + ", kiln serve " + base + ")";
            for (JsonNode n : r.path("nodes")) {
                add(out, n.path("to"), why);
                add(out, n.path("from"), why);
            }
            for (String t : r.path("target").asText("").split(",")) {
                add(out, t.trim(), why);
            }
        }
        return out;
    }

    private static void add(Map<ImageRef, String> out, JsonNode v, String why) {
        if (v.isTextual()) {
            add(out, v.asText(), why);
        }
    }

    private static void add(Map<ImageRef, String> out, String v, String why) {
        if (v.isBlank() || "null".equals(v) || v.contains("@")) {
            return;
        }
        try {
            out.putIfAbsent(ImageRef.parse(v), why);
        } catch (IllegalArgumentException e) {
            // a pool rollout's AMI or anything else that is not NAME:VERSION names no store version
        }
    }

    @Override
    public synchronized String describe() {
        try {
            referenced();
        } catch (IOException e) {
            return "the rollouts of kiln serve " + base + " (unreadable: " + e.getMessage() + ")";
        }
        return noApi ? "no rollouts: kiln serve " + base + " has no rollout API" : "the rollouts of kiln serve " + base;
    }
}
