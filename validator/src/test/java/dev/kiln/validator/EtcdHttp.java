package dev.kiln.validator;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A test's view of a node's etcd through etcd's own JSON gateway (POST /v3/kv/put, /v3/kv/range,
 * /v3/cluster/member/list on the client port): what a cluster holds, from the host, without etcdctl.
 */
final class EtcdHttp {
    private EtcdHttp() {}

    static void put(String address, String key, String value) throws IOException, InterruptedException {
        call(address, "/v3/kv/put", Map.of("key", b64(key), "value", b64(value)));
    }

    /**
     * Every key under {@code prefix} with its value, as this node's own copy has it (a serializable
     * read: served from the node's data, not the leader's).
     */
    static Map<String, String> prefix(String address, String prefix) throws IOException, InterruptedException {
        byte[] end = prefix.getBytes(StandardCharsets.UTF_8);
        end[end.length - 1]++;
        JsonNode r = call(
                address,
                "/v3/kv/range",
                Map.of("key", b64(prefix), "range_end", Base64.getEncoder().encodeToString(end), "serializable", true));
        Map<String, String> out = new LinkedHashMap<>();
        for (JsonNode kv : r.path("kvs")) {
            out.put(unb64(kv.get("key").asText()), unb64(kv.path("value").asText("")));
        }
        return out;
    }

    /** Member name to member id; unstarted members (no name yet) as "(unstarted) ID". */
    static Map<String, String> members(String address) throws IOException, InterruptedException {
        Map<String, String> out = new LinkedHashMap<>();
        for (JsonNode m : call(address, "/v3/cluster/member/list", Map.of()).path("members")) {
            String name = m.path("name").asText("");
            String id = m.path("ID").asText();
            out.put(name.isEmpty() ? "(unstarted) " + id : name, id);
        }
        return out;
    }

    private static JsonNode call(String address, String path, Map<String, Object> body)
            throws IOException, InterruptedException {
        // A client per call: a pooled connection to a machine that lost power only gets a reset.
        HttpClient http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create("http://" + address + ":2379" + path))
                        .timeout(Duration.ofSeconds(10))
                        .POST(HttpRequest.BodyPublishers.ofString(Json.COMPACT.writeValueAsString(body)))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("etcd at " + address + path + ": HTTP " + r.statusCode() + " " + r.body());
        }
        return Json.MAPPER.readTree(r.body());
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String unb64(String s) {
        return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8);
    }
}
