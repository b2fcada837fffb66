package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.fleet.OperatorAuth;
import dev.kiln.rollout.PlanRequest;
import dev.kiln.rollout.SimFleet;
import dev.kiln.rollout.SimulatedMachines;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of kiln serve in the middle of a rollout, then a restart on the same state: the rollout
 * goes on from its journal and completes, and every node was power-cycled exactly once. The server
 * is the real CLI in its own JVM; the machines are its SIMULATED ones (--simulate-machines), whose
 * power actions go to a log in the state directory that survives the kill.
 */
class RolloutCrashTest {
    @TempDir
    Path dir;

    private Process serve;
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void kill() throws Exception {
        if (serve != null) {
            serve.destroyForcibly().waitFor();
        }
    }

    @Test
    void aRolloutSurvivesKillMinus9OfKilnServeAndReplacesEveryNodeExactlyOnce() throws Exception {
        SimFleet.prepare(dir, 3, 6);
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String base = "http://127.0.0.1:" + port;
        serve = start(port, "serve-1.log");
        await(
                "every simulated node ready",
                Duration.ofSeconds(60),
                () -> nodes(base, n -> "ready".equals(n.path("step").asText())) == 9);

        PlanRequest req = new PlanRequest("sim", SimFleet.B, "2", null, null, 60L, false, true);
        JsonNode plan = post(base, "/rollouts/plan", req, 200);
        assertThat(plan.get("blockers")).isEmpty();
        String id = post(base, "/rollouts", plan, 201).get("id").asText();
        await("some nodes replaced and one on its way", Duration.ofSeconds(60), () -> {
            JsonNode s = get(base, "/rollouts/" + id);
            return count(s, "done") >= 2 && count(s, "in-progress") >= 1;
        });
        serve.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook, no saving
        serve = start(port, "serve-2.log");

        await("the rollout completes after the restart", Duration.ofSeconds(90), () -> {
            JsonNode s = get(base, "/rollouts/" + id);
            return !s.get("state").asText().equals("running");
        });
        JsonNode done = get(base, "/rollouts/" + id);
        assertThat(done.get("state").asText()).as(done.toPrettyString()).isEqualTo("done");
        List<String> types = new ArrayList<>();
        done.get("events").forEach(e -> types.add(e.get("type").asText()));
        assertThat(types).contains("restarted");
        Map<String, Integer> cycles = new HashMap<>();
        for (String line : Files.readAllLines(dir.resolve("state").resolve(SimulatedMachines.POWER_LOG))) {
            cycles.merge(line.split(" ")[1], 1, Integer::sum);
        }
        assertThat(cycles)
                .hasSize(9)
                .allSatisfy((node, n) -> assertThat(n).as(node).isEqualTo(1));
        assertThat(nodes(base, n -> SimFleet.B.equals(n.path("reportedImage").asText())))
                .isEqualTo(9);
    }

    private Process start(int port, String log) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "serve",
                "--inventory",
                dir.resolve("inventory.yaml").toString(),
                "--store",
                dir.resolve("store").toString(),
                "--state",
                dir.resolve("state").toString(),
                "--listen",
                "127.0.0.1:" + port,
                "--simulate-machines",
                "1.5"));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve(log).toFile())
                .start();
        await("kiln serve answers", Duration.ofSeconds(60), () -> {
            if (!p.isAlive()) {
                throw new AssertionError("kiln serve exited: " + Files.readString(dir.resolve(log)));
            }
            try {
                // The controller attaches after the server answers: wait for its API, not /boot.ipxe.
                if (OperatorAuth.readToken(dir.resolve("state")) == null) {
                    return false;
                }
                return http.send(
                                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/rollouts"))
                                                .header("Authorization", "Bearer " + token())
                                                .build(),
                                        HttpResponse.BodyHandlers.discarding())
                                .statusCode()
                        == 200;
            } catch (java.io.IOException e) {
                return false;
            }
        });
        return p;
    }

    private String token() throws Exception {
        return OperatorAuth.readToken(dir.resolve("state")).trim();
    }

    private JsonNode get(String base, String path) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(base + path))
                        .header("Authorization", "Bearer " + token())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.MAPPER.readTree(r.body());
    }

    private JsonNode post(String base, String path, Object body, int expect) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(base + path))
                        .header("Authorization", "Bearer " + token())
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(Json.MAPPER.writeValueAsBytes(body)))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(expect);
        return Json.MAPPER.readTree(r.body());
    }

    private int nodes(String base, Predicate<JsonNode> which) throws Exception {
        int n = 0;
        for (JsonNode node : get(base, "/nodes")) {
            if (which.test(node)) {
                n++;
            }
        }
        return n;
    }

    private static long count(JsonNode rollout, String state) {
        long n = 0;
        for (JsonNode node : rollout.get("nodes")) {
            if (state.equals(node.get("state").asText())) {
                n++;
            }
        }
        return n;
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private static void await(String what, Duration timeout, Check check) throws Exception {
        Instant end = Instant.now().plus(timeout);
        while (!check.ok()) {
            if (Instant.now().isAfter(end)) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            Thread.sleep(100);
        }
    }
}
