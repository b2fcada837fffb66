package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.rollout.PlanRequest;
import dev.kiln.rollout.SimFleet;
import dev.kiln.rollout.SimulatedMachines;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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

    private ServeProcess serve;

    @AfterEach
    void kill() throws Exception {
        if (serve != null) {
            serve.kill();
        }
    }

    @Test
    void aRolloutSurvivesKillMinus9OfKilnServeAndReplacesEveryNodeExactlyOnce() throws Exception {
        SimFleet.prepare(dir, 3, 6);
        serve = new ServeProcess(dir.resolve("state"));
        start("serve-1.log");
        ServeProcess.await(
                "every simulated node ready",
                Duration.ofSeconds(60),
                () -> nodes(n -> "ready".equals(n.path("step").asText())) == 9);

        PlanRequest req = new PlanRequest("sim", SimFleet.B, "2", null, null, 60L, false, true);
        JsonNode plan = serve.post("/rollouts/plan", req, 200);
        assertThat(plan.get("blockers")).isEmpty();
        String id = serve.post("/rollouts", plan, 201).get("id").asText();
        ServeProcess.await("some nodes replaced and one on its way", Duration.ofSeconds(60), () -> {
            JsonNode s = serve.get("/rollouts/" + id);
            return count(s, "done") >= 2 && count(s, "in-progress") >= 1;
        });
        serve.kill();
        start("serve-2.log");

        ServeProcess.await("the rollout completes after the restart", Duration.ofSeconds(90), () -> {
            JsonNode s = serve.get("/rollouts/" + id);
            return !s.get("state").asText().equals("running");
        });
        JsonNode done = serve.get("/rollouts/" + id);
        assertThat(done.get("state").asText())
                .as(
                        "%s%nserve after the restart:%n%s",
                        done.toPrettyString(), Files.readString(dir.resolve("serve-2.log")))
                .isEqualTo("done");
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
        assertThat(nodes(n -> SimFleet.B.equals(n.path("reportedImage").asText())))
                .isEqualTo(9);
    }

    private void start(String log) throws Exception {
        serve.startSimulated(dir, dir.resolve(log), "1.5");
    }

    private int nodes(Predicate<JsonNode> which) throws Exception {
        int n = 0;
        for (JsonNode node : serve.get("/nodes")) {
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
}
