package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.rollout.SimFleet;
import dev.kiln.rollout.SimulatedMachines;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What an operator does off the happy path, through the real CLI against a real kiln serve process
 * on a SIMULATED fleet (--simulate-machines): rollback of a finished rollout, a revoke between plan
 * and apply, resume after a failed node, and prune while a rollout is halted. Each was wrong before
 * (a ClosedChannelException, a revoked version on every node, "done" with a failed node, a pruned
 * target); these keep them right.
 */
class RolloutSemanticsTest {
    @TempDir
    Path dir;

    private ServeProcess serve;
    private Path state;

    @BeforeEach
    void start() throws Exception {
        SimFleet.prepare(dir, 1, 3);
        state = dir.resolve("state");
        serve = new ServeProcess(state);
        serve.startSimulated(dir, dir.resolve("serve.log"), "0.2");
        ServeProcess.await("every simulated node ready", Duration.ofSeconds(60), () -> ready(SimFleet.A) == 4);
    }

    @AfterEach
    void stop() throws Exception {
        serve.kill();
    }

    @Test
    void aFinishedRolloutRollsBackAndTheOriginalIsMarkedOnlyOnceTheRollbackIsAdmitted() throws Exception {
        String id = applyAndWait(plan("--to", SimFleet.B), "done");
        assertThat(ready(SimFleet.B)).isEqualTo(4);

        PruneFixtures.Run rb = kiln("rollout", "rollback", id);
        assertThat(rb.status()).as(rb.out()).isZero();
        String back = serve.get("/rollouts/" + id).path("events").findValues("detail").stream()
                .map(JsonNode::asText)
                .filter(d -> d.startsWith("kiln rollout rollback"))
                .findFirst()
                .orElseThrow();
        String rollbackId = back.substring(back.lastIndexOf(' ') + 1);
        awaitState(rollbackId, "done");
        assertThat(ready(SimFleet.A)).isEqualTo(4);
        assertThat(serve.get("/rollouts/" + id).path("state").asText()).isEqualTo("rolled-back");

        PruneFixtures.Run again = kiln("rollout", "rollback", id);
        assertThat(again.status()).isNotZero();
        assertThat(again.out()).contains("rolled back already");
    }

    @Test
    void aPlanWhoseTargetWasRevokedBeforeApplyIsRefusedWhateverThePlanFileSays() throws Exception {
        Path plan = plan("--to", SimFleet.B);
        PruneFixtures.Run revoke = kiln(
                "revoke",
                SimFleet.B,
                "--reason",
                "CVE in the test",
                "--store",
                dir.resolve("store").toString());
        assertThat(revoke.status()).as(revoke.out()).isZero();
        ServeProcess.await(
                "kiln serve sees the revocation",
                Duration.ofSeconds(30),
                () -> serve.post("/rollouts/plan", Map.of("cluster", "sim", "to", SimFleet.B), 200)
                        .path("blockers")
                        .toString()
                        .contains("revoked"));

        PruneFixtures.Run apply = kiln("rollout", "apply", plan.toString());
        assertThat(apply.status()).isNotZero();
        assertThat(apply.out()).contains("revoked");
        assertThat(serve.get("/rollouts")).isEmpty();
        assertThat(ready(SimFleet.A)).isEqualTo(4);

        // A plan file edited to say it is not blocked is planned again by the server all the same.
        JsonNode edited = Json.MAPPER.readTree(plan.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) edited).putArray("blockers");
        serve.post("/rollouts", edited, 409);
    }

    @Test
    void aResumedRolloutRetriesTheFailedNodeAndIsNeverDoneWithoutIt() throws Exception {
        Files.writeString(state.resolve(SimulatedMachines.BROKEN), "w1\n");
        String id = applyAndWait(plan("--to", SimFleet.B, "--node-timeout", "5", "--on-failure", "halt"), "halted");
        JsonNode halted = serve.get("/rollouts/" + id);
        assertThat(halted.path("reason").asText()).contains("w1");
        assertThat(nodeState(halted, "w1")).isEqualTo("failed");

        // Resumed while w1 is still broken: it fails again and the rollout halts again, never done.
        PruneFixtures.Run resume = kiln("rollout", "resume", id);
        assertThat(resume.status()).as(resume.out()).isZero();
        awaitState(id, "halted");
        assertThat(nodeState(serve.get("/rollouts/" + id), "w1")).isEqualTo("failed");

        // Mended: the resume takes w1 to the target and only then is the rollout done.
        Files.delete(state.resolve(SimulatedMachines.BROKEN));
        assertThat(kiln("rollout", "resume", id).status()).isZero();
        awaitState(id, "done");
        assertThat(ready(SimFleet.B)).isEqualTo(4);
    }

    @Test
    void pruneKeepsTheVersionsOfAHaltedRollout() throws Exception {
        Files.writeString(state.resolve(SimulatedMachines.BROKEN), "m1\n");
        String id = applyAndWait(plan("--to", SimFleet.B, "--node-timeout", "5", "--on-failure", "halt"), "halted");
        PruneFixtures.Run prune = kiln(
                "prune",
                "--keep",
                "0",
                "--dry-run",
                "--no-docker",
                "--store",
                dir.resolve("store").toString(),
                "--server",
                serve.base(),
                "--token",
                Files.readString(state.resolve("operator-token")).strip());
        assertThat(prune.status()).as(prune.out()).isZero();
        assertThat(prune.out())
                .contains("the rollouts of kiln serve " + serve.base())
                .contains("rollout in progress: rollout " + id);
    }

    @Test
    void aRolloutToAVersionTheInventoryDoesNotNameMakesItTheNodesDesiredOneSetByThatRollout() throws Exception {
        String id = applyAndWait(plan("--to", SimFleet.B), "done");

        // kiln nodes and the page agree: B is what the nodes should run, set by the rollout; no drift.
        PruneFixtures.Run nodes = kiln("nodes", "--server", serve.base(), "--token", operatorToken());
        assertThat(nodes.status()).as(nodes.out()).isZero();
        assertThat(nodes.out())
                .contains(SimFleet.B + " (set by rollout " + id + ")")
                .doesNotContain("drifted");
        JsonNode page = serve.get("/ui/fleet.json");
        assertThat(page.path("summary").path("drifted").asInt())
                .as(page.toPrettyString())
                .isZero();
        assertThat(page.findValues("desiredSetBy"))
                .hasSize(4)
                .allMatch(v -> v.asText().equals(id));

        // The next rollout without --to keeps them there: nothing to do.
        Path next = plan();
        assertThat(Json.MAPPER.readTree(next.toFile()).path("batches").size())
                .as(Files.readString(next))
                .isZero();

        // An inventory edit is a newer intent and replaces the rollout's: here it names B itself.
        Path inventory = dir.resolve("inventory.yaml");
        Files.writeString(inventory, Files.readString(inventory).replace(SimFleet.A, SimFleet.B));
        ServeProcess.await(
                "kiln serve reads the edited inventory",
                Duration.ofSeconds(30),
                () -> SimFleet.B.equals(
                        serve.get("/nodes").get(0).path("assignedImage").asText()));
        JsonNode node = serve.get("/nodes").get(0);
        assertThat(node.path("desiredImage").asText()).isEqualTo(SimFleet.B);
        assertThat(node.path("desiredSetBy").isNull()).as(node.toPrettyString()).isTrue();
        PruneFixtures.Run after = kiln("nodes", "--server", serve.base(), "--token", operatorToken());
        assertThat(after.out()).doesNotContain("set by rollout").doesNotContain("drifted");
    }

    private String operatorToken() throws Exception {
        return Files.readString(state.resolve("operator-token")).strip();
    }

    private Path plan(String... options) throws Exception {
        Path out = dir.resolve("plan-" + System.nanoTime() + ".json");
        String[] args = new String[options.length + 6];
        args[0] = "rollout";
        args[1] = "plan";
        args[2] = "--cluster";
        args[3] = "sim";
        args[4] = "-o";
        args[5] = out.toString();
        System.arraycopy(options, 0, args, 6, options.length);
        PruneFixtures.Run r = kiln(append(args, "--allow-unvalidated"));
        assertThat(r.status()).as(r.out()).isZero();
        return out;
    }

    @Test
    void abortBackTakesTheNodeInProgressBackAndLeavesTheRestAlone() throws Exception {
        // Boots of 4 s, so the rollout can be caught with a node mid-replacement.
        serve.kill();
        serve = new ServeProcess(state);
        serve.startSimulated(dir, dir.resolve("serve-slow.log"), "4");
        ServeProcess.await("every simulated node ready", Duration.ofSeconds(60), () -> ready(SimFleet.A) == 4);
        PruneFixtures.Run apply =
                kiln("rollout", "apply", plan("--to", SimFleet.B).toString());
        assertThat(apply.status()).as(apply.out()).isZero();
        String id = serve.get("/rollouts").get(0).path("id").asText();
        ServeProcess.await("a node power-cycled and not yet back", Duration.ofSeconds(60), () -> {
            JsonNode r = serve.get("/rollouts/" + id);
            for (JsonNode n : r.path("nodes")) {
                if ("in-progress".equals(n.path("state").asText())
                        && "confirm".equals(n.path("step").asText())) {
                    return true;
                }
            }
            return false;
        });

        PruneFixtures.Run abort = kiln("rollout", "abort", "--back", id);
        assertThat(abort.status()).as(abort.out()).isZero();
        assertThat(abort.out()).contains("aborted");
        ServeProcess.await("no node of the aborted rollout in progress", Duration.ofSeconds(90), () -> {
            for (JsonNode n : serve.get("/rollouts/" + id).path("nodes")) {
                if ("in-progress".equals(n.path("state").asText())) {
                    return false;
                }
            }
            return true;
        });

        JsonNode r = serve.get("/rollouts/" + id);
        assertThat(r.path("state").asText()).isEqualTo("aborted");
        int back = 0;
        for (JsonNode n : r.path("nodes")) {
            String st = n.path("state").asText();
            // Nothing finished forward after the abort, and whatever was begun was taken back.
            assertThat(st).as(r.toPrettyString()).isIn("done", "pending", "rolled-back");
            if (st.equals("rolled-back")) {
                back++;
            }
        }
        assertThat(back).as(r.toPrettyString()).isEqualTo(1);
        ServeProcess.await(
                "the node taken back ready on " + SimFleet.A,
                Duration.ofSeconds(30),
                () -> ready(SimFleet.A) + ready(SimFleet.B) == 4);
        int onB = (int) java.util.stream.StreamSupport.stream(r.path("nodes").spliterator(), false)
                .filter(n -> n.path("state").asText().equals("done"))
                .count();
        assertThat(ready(SimFleet.B)).isEqualTo(onB);
        // No boot directive of the rollout is left for the next boot to act on.
        String directives = Files.exists(state.resolve("directives.json"))
                ? Files.readString(state.resolve("directives.json"))
                : "";
        assertThat(directives).doesNotContain(id);
    }

    private String applyAndWait(Path plan, String end) throws Exception {
        PruneFixtures.Run r = kiln("rollout", "apply", plan.toString());
        assertThat(r.status()).as(r.out()).isZero();
        String id = serve.get("/rollouts").get(0).path("id").asText();
        awaitState(id, end);
        return id;
    }

    private void awaitState(String id, String end) throws Exception {
        ServeProcess.await("rollout " + id + " " + end, Duration.ofSeconds(60), () -> {
            String s = serve.get("/rollouts/" + id).path("state").asText();
            return !s.equals("running");
        });
        JsonNode s = serve.get("/rollouts/" + id);
        assertThat(s.path("state").asText()).as(s.toPrettyString()).isEqualTo(end);
    }

    /**
     * kiln ARGS in this JVM, stdout and stderr together (refusals go to stderr); a rollout command
     * talks to this test's kiln serve.
     */
    private PruneFixtures.Run kiln(String... args) {
        java.io.PrintStream old = System.err;
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        PruneFixtures.Run r;
        try (java.io.PrintStream capture =
                new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8)) {
            System.setErr(capture);
            r = PruneFixtures.kiln(
                    args[0].equals("rollout")
                            ? append(args, "--server", serve.base(), "--state", state.toString())
                            : args);
        } finally {
            System.setErr(old);
        }
        String said = err.toString(java.nio.charset.StandardCharsets.UTF_8);
        System.err.print(said);
        return new PruneFixtures.Run(r.status(), r.out() + said);
    }

    private static String[] append(String[] args, String... more) {
        String[] all = new String[args.length + more.length];
        System.arraycopy(args, 0, all, 0, args.length);
        System.arraycopy(more, 0, all, args.length, more.length);
        return all;
    }

    private int ready(String image) throws Exception {
        int n = 0;
        for (JsonNode node : serve.get("/nodes")) {
            if ("ready".equals(node.path("step").asText())
                    && image.equals(node.path("reportedImage").asText())) {
                n++;
            }
        }
        return n;
    }

    private static String nodeState(JsonNode rollout, String node) {
        for (JsonNode n : rollout.path("nodes")) {
            if (node.equals(n.path("name").asText())) {
                return n.path("state").asText();
            }
        }
        return null;
    }
}
