package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.fleet.OperatorAuth;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A real kiln serve (the CLI) in its own JVM, for tests that kill -9 it mid-rollout and start it
 * again on the same state and port; and its operator API with the token from that state.
 */
final class ServeProcess {
    private final Path state;
    private final int port;
    private final HttpClient http = HttpClient.newHttpClient();
    private Process process;

    /** A free port now, so that a restarted server listens where the nodes were told. */
    ServeProcess(Path state) throws IOException {
        this.state = state;
        try (ServerSocket s = new ServerSocket(0)) {
            this.port = s.getLocalPort();
        }
    }

    String base() {
        return "http://127.0.0.1:" + port;
    }

    /**
     * Starts {@code kiln serve ARGS --state STATE --listen 127.0.0.1:PORT} with output to {@code
     * log}, and waits until its rollout controller answers (it plugs in just after serve listens).
     */
    void start(Path log, Map<String, String> env, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "serve"));
        cmd.addAll(args);
        cmd.addAll(List.of("--state", state.toString(), "--listen", "127.0.0.1:" + port));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        if (env.containsKey("AWS_ACCESS_KEY_ID")) {
            pb.environment().remove("AWS_PROFILE"); // the given keys, not a profile of this machine
        }
        pb.environment().putAll(env);
        Process p = pb.start();
        process = p;
        await("kiln serve's rollout controller answers", Duration.ofSeconds(60), () -> {
            if (!p.isAlive()) {
                throw new AssertionError("kiln serve exited: " + Files.readString(log));
            }
            if (OperatorAuth.readToken(state) == null) {
                return false;
            }
            try {
                return send(HttpRequest.newBuilder(URI.create(base() + "/rollouts")))
                                .statusCode()
                        == 200;
            } catch (IOException e) {
                return false;
            }
        });
    }

    /**
     * Starts it on a SIMULATED fleet made by SimFleet.prepare(fleetDir, ...): the inventory and
     * store there, machines booting in {@code bootSeconds}.
     */
    void startSimulated(Path fleetDir, Path log, String bootSeconds) throws Exception {
        start(
                log,
                Map.of(),
                List.of(
                        "--inventory",
                        fleetDir.resolve("inventory.yaml").toString(),
                        "--store",
                        fleetDir.resolve("store").toString(),
                        "--simulate-machines",
                        bootSeconds));
    }

    /** SIGKILL: no shutdown hook runs, nothing is saved on the way out. */
    void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly().waitFor();
            process = null;
        }
    }

    JsonNode get(String path) throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base() + path)));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.MAPPER.readTree(r.body());
    }

    JsonNode post(String path, Object body, int expect) throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base() + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Json.MAPPER.writeValueAsBytes(body))));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(expect);
        return Json.MAPPER.readTree(r.body());
    }

    private HttpResponse<String> send(HttpRequest.Builder req) throws IOException, InterruptedException {
        return http.send(
                req.header(
                                "Authorization",
                                "Bearer " + OperatorAuth.readToken(state).trim())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    interface Check {
        boolean ok() throws Exception;
    }

    static void await(String what, Duration timeout, Check check) throws Exception {
        Instant end = Instant.now().plus(timeout);
        while (!check.ok()) {
            if (Instant.now().isAfter(end)) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(100);
        }
    }
}
