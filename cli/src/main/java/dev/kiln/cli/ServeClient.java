package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * How a command reaches a running kiln serve's operator endpoints (kiln nodes, kiln rollout): where
 * it is and the operator token. A picocli mixin.
 */
final class ServeClient {
    @Option(
            names = "--server",
            paramLabel = "URL",
            description = "kiln serve to ask (default: $KILN_SERVER or http://127.0.0.1:8080).")
    String server;

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

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    String base() {
        String base = server != null ? server : System.getenv().getOrDefault("KILN_SERVER", "http://127.0.0.1:8080");
        return base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    }

    /** A response: its status and body. */
    record Reply(int status, String body) {
        JsonNode json() throws IOException {
            return Json.MAPPER.readTree(body);
        }

        /** The "error" field kiln serve's rollout API answers with, else the body. */
        String error() {
            try {
                JsonNode e = json().get("error");
                return e != null ? e.asText() : body.strip();
            } catch (IOException ex) {
                return body.strip();
            }
        }
    }

    Reply get(String path) throws IOException, InterruptedException {
        return send("GET", path, null);
    }

    Reply post(String path, Object body) throws IOException, InterruptedException {
        return send("POST", path, body);
    }

    private Reply send(String method, String path, Object body) throws IOException, InterruptedException {
        String base = base();
        HttpRequest.Builder req =
                HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(120));
        if (body == null) {
            req.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            req.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofByteArray(Json.MAPPER.writeValueAsBytes(body)));
        }
        String credential = credential(base);
        if (credential != null && !credential.isBlank()) {
            req.header("Authorization", "Bearer " + credential.trim());
        }
        HttpResponse<String> r;
        try {
            r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            throw new IOException(
                    "cannot reach kiln serve at " + base + " (is it running? --server or $KILN_SERVER sets where)");
        }
        if (r.statusCode() == 401) {
            throw new IOException(method + " " + base + path
                    + ": 401, the operator token is missing or wrong: pass --token or"
                    + " $KILN_TOKEN (it is in operator-token in kiln serve's state directory)");
        }
        return new Reply(r.statusCode(), r.body());
    }

    private String credential(String base) throws IOException {
        String credential = token != null ? token : System.getenv("KILN_TOKEN");
        String host = URI.create(base).getHost();
        boolean local = host != null && (host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]"));
        if ((credential == null || credential.isBlank()) && (local || state != null)) {
            // Only to a server on this machine (or with --state said): this machine's token is no
            // business of another's.
            credential =
                    dev.kiln.fleet.OperatorAuth.readToken(state != null ? state : dev.kiln.fleet.StateDir.defaultDir());
        }
        return credential;
    }
}
