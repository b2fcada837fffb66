package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.core.json.Json;
import dev.kiln.rollout.PlanRequest;
import dev.kiln.rollout.PoolPlanRequest;
import dev.kiln.rollout.ec2.AgentStandIn;
import dev.kiln.rollout.ec2.Ec2Fleet;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of kiln serve (the real CLI in its own JVM, talking to moto) between an instance's launch
 * and the journal entry that records it, then a restart on the same state: the rollout finds the
 * launch by its tags, launches nothing twice, and completes. The exact moment is made certain by a
 * forwarding proxy between kiln serve and moto: it passes every call through, but keeps the answer
 * of one RunInstances (after moto has launched the instance), so kiln serve is killed while it
 * waits for it. The node agents are {@link AgentStandIn} (moto boots nothing). The same for an
 * Auto Scaling pool: killed in the middle of a batch (a termination held), kiln serve goes on with
 * the pool rollout after the restart instead of halting it, and replaces no instance twice.
 */
@Tag("aws")
class Ec2RolloutCrashTest {
    @TempDir
    Path dir;

    private ServeProcess serve;
    /** The proxy's own client to moto. */
    private final HttpClient http = HttpClient.newHttpClient();

    private Ec2Fleet fleet;
    private AgentStandIn agent;
    private HttpServer proxy;
    private final java.util.concurrent.ExecutorService proxyThreads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "moto-proxy");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean armed = new AtomicBoolean();
    /** The call to hold (its Action=), and how many such calls pass before it. */
    private volatile String heldAction = "RunInstances";

    private final java.util.concurrent.atomic.AtomicInteger passBeforeHold =
            new java.util.concurrent.atomic.AtomicInteger();
    private final CountDownLatch held = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);

    @AfterEach
    void cleanUp() throws Exception {
        if (serve != null) {
            serve.kill();
        }
        release.countDown();
        if (proxy != null) {
            proxy.stop(0);
        }
        proxyThreads.shutdownNow();
        if (agent != null) {
            agent.close();
        }
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void killMinus9BetweenLaunchAndJournalThenRestartLeavesOneInstancePerNode() throws Exception {
        proxy = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        proxy.setExecutor(proxyThreads);
        String proxyUrl = "http://127.0.0.1:" + proxy.getAddress().getPort();
        fleet = Ec2Fleet.prepare(dir, null, proxyUrl);
        proxy.createContext("/", this::forward);
        proxy.start();
        agent = fleet.agent(Duration.ofMillis(500)).start();

        serve = new ServeProcess(dir.resolve("state"));
        start(proxyUrl, "serve-1.log");

        // Bring-up from nothing, through kiln serve's API.
        String up = apply(new PlanRequest(Ec2Fleet.CLUSTER, null, "1", null, null, 120L, false, true));
        ServeProcess.await("the bring-up", Duration.ofSeconds(180), () -> !"running".equals(state(up)));
        assertThat(state(up)).isEqualTo("done");

        // A -> B; the first launch (m1's) is held after moto made the instance.
        armed.set(true);
        String id = apply(new PlanRequest(Ec2Fleet.CLUSTER, Ec2Fleet.B.toString(), "1", null, null, 120L, false, true));
        assertThat(held.await(120, TimeUnit.SECONDS))
                .as("a RunInstances call held")
                .isTrue();
        assertThat(fleet.alive("m1"))
                .singleElement()
                .satisfies(i -> assertThat(i.imageId()).isEqualTo(fleet.amiOf(Ec2Fleet.B)));
        serve.kill(); // SIGKILL: kiln serve never heard of the launch
        release.countDown();
        List<String> atKill = journalTypes(id, "m1");
        assertThat(atKill).as("the journal at the kill").endsWith("begin power");

        start(proxyUrl, "serve-2.log");
        ServeProcess.await(
                "the rollout completes after the restart", Duration.ofSeconds(240), () -> !"running".equals(state(id)));
        JsonNode done = serve.get("/rollouts/" + id);
        assertThat(done.get("state").asText()).as(done.toPrettyString()).isEqualTo("done");
        List<String> m1 = new ArrayList<>();
        for (JsonNode e : done.get("events")) {
            if ("m1".equals(e.path("node").asText())
                    && "power".equals(e.path("step").asText())) {
                m1.add(e.get("type").asText() + ": " + e.path("detail").asText());
            }
        }
        assertThat(m1).hasSize(2);
        assertThat(m1.get(1)).contains("already replaced before kiln serve restarted");
        for (String node : Ec2Fleet.ADDRESSES.keySet()) {
            assertThat(fleet.alive(node)).as(node + ": one instance").hasSize(1);
            assertThat(fleet.alive(node).get(0).imageId()).isEqualTo(fleet.amiOf(Ec2Fleet.B));
            assertThat(fleet.all(node))
                    .as(node + ": launched on A, then once on B")
                    .hasSize(2);
        }
        assertThat(agent.errors()).isEmpty();
    }

    @Test
    void killMinus9DuringAPoolBatchThenRestartGoesOnAndReplacesEachInstanceOnce() throws Exception {
        proxy = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        proxy.setExecutor(proxyThreads);
        String proxyUrl = "http://127.0.0.1:" + proxy.getAddress().getPort();
        fleet = Ec2Fleet.prepare(dir, "pools: [{name: workers-a, autoScalingGroup: cloud-workers}]", proxyUrl);
        proxy.createContext("/", this::forward);
        proxy.start();
        fleet.autoScalingGroup("cloud-workers", 4);
        Map<String, String> before = fleet.groupAmis("cloud-workers");
        assertThat(before).hasSize(4);

        serve = new ServeProcess(dir.resolve("state"));
        start(proxyUrl, "serve-1.log");
        // Batches of two; the second batch's first termination is held after moto did it.
        heldAction = "TerminateInstanceInAutoScalingGroup";
        passBeforeHold.set(2);
        armed.set(true);
        JsonNode plan = serve.post(
                "/rollouts/pools/plan",
                new PoolPlanRequest(Ec2Fleet.CLUSTER, "workers-a", Ec2Fleet.B.toString(), "2", null, 120L),
                200);
        assertThat(plan.get("blockers")).as(plan.toPrettyString()).isEmpty();
        String id = serve.post("/rollouts/pools", plan, 201).get("id").asText();
        assertThat(held.await(120, TimeUnit.SECONDS))
                .as("the second batch's termination held")
                .isTrue();
        serve.kill(); // SIGKILL in the middle of the second batch
        release.countDown();

        start(proxyUrl, "serve-2.log");
        ServeProcess.await(
                "the pool rollout goes on after the restart",
                Duration.ofSeconds(240),
                () -> !"running".equals(state(id)));
        JsonNode done = serve.get("/rollouts/" + id);
        assertThat(done.get("state").asText()).as(done.toPrettyString()).isEqualTo("done");
        assertThat(done.findValuesAsText("type")).contains("restarted");
        assertThat(done.get("nodes").findValuesAsText("state")).hasSize(4).containsOnly("done");
        assertThat(done.get("events").findValuesAsText("detail"))
                .anyMatch(d -> d.contains("made before kiln serve restarted"))
                .anyMatch(d -> d.startsWith("terminated before kiln serve restarted"));
        Map<String, String> after = fleet.groupAmis("cloud-workers");
        assertThat(after).hasSize(4);
        assertThat(after.values()).containsOnly(fleet.amiOf(Ec2Fleet.B));
        assertThat(after.keySet()).doesNotContainAnyElementsOf(before.keySet());
        assertThat(fleet.launchedFrom(fleet.amiOf(Ec2Fleet.B)))
                .as("each instance replaced once, none twice")
                .isEqualTo(4);
    }

    /**
     * Passes a call to moto; keeps the answer of the armed call: the first real (not DryRun) call
     * of {@link #heldAction} after {@link #passBeforeHold} of them went through.
     */
    private void forward(HttpExchange ex) throws IOException {
        try (ex) {
            byte[] body = ex.getRequestBody().readAllBytes();
            String form = new String(body, StandardCharsets.UTF_8);
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(fleet.endpoint() + ex.getRequestURI()))
                    .method(ex.getRequestMethod(), HttpRequest.BodyPublishers.ofByteArray(body));
            ex.getRequestHeaders().forEach((k, vs) -> {
                if (!Set.of("host", "connection", "content-length", "expect", "upgrade")
                        .contains(k.toLowerCase())) {
                    vs.forEach(v -> b.header(k, v));
                }
            });
            HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
            if (armed.get()
                    && form.matches("(?s)(.*&)?Action=" + heldAction + "(&.*)?")
                    && !form.contains("DryRun=true")
                    && passBeforeHold.getAndDecrement() <= 0
                    && armed.compareAndSet(true, false)) {
                held.countDown();
                release.await(); // kiln serve is killed while it waits for this answer
                return;
            }
            // moto writes Auto Scaling timestamps without a zone, which the SDK in kiln serve cannot
            // read (Ec2World.ZonedAsgTimes does the same for in-process clients); the body changes, so
            // its CRC32 header goes.
            String text = new String(r.body(), StandardCharsets.UTF_8);
            String zoned = Ec2Fleet.zonedAsgTimes(text);
            boolean fixed = !zoned.equals(text);
            byte[] answer = fixed ? zoned.getBytes(StandardCharsets.UTF_8) : r.body();
            r.headers().map().forEach((k, vs) -> {
                if (!Set.of("content-length", "transfer-encoding", "connection").contains(k.toLowerCase())
                        && !(fixed && k.equalsIgnoreCase("x-amz-crc32"))) {
                    vs.forEach(v -> ex.getResponseHeaders().add(k, v));
                }
            });
            ex.sendResponseHeaders(r.statusCode(), answer.length == 0 ? -1 : answer.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(answer);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void start(String endpoint, String log) throws Exception {
        // moto's test credentials, the ordinary way the SDK finds them.
        serve.start(
                dir.resolve(log),
                Map.of("AWS_ACCESS_KEY_ID", "AKIAKILNTEST00000000", "AWS_SECRET_ACCESS_KEY", "kiln-test-secret"),
                List.of(
                        "--inventory",
                        fleet.inventory.toString(),
                        "--store",
                        dir.resolve("store").toString(),
                        "--endpoint-url",
                        endpoint,
                        "--region",
                        fleet.region()));
    }

    private String apply(PlanRequest req) throws Exception {
        JsonNode plan = serve.post("/rollouts/plan", req, 200);
        assertThat(plan.get("blockers")).as(plan.toPrettyString()).isEmpty();
        return serve.post("/rollouts", plan, 201).get("id").asText();
    }

    private String state(String id) throws Exception {
        return serve.get("/rollouts/" + id).get("state").asText();
    }

    /** "TYPE STEP" of the node's events, read from the journal file kiln serve left. */
    private List<String> journalTypes(String id, String node) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(
                dir.resolve("state").resolve("rollouts").resolve(id).resolve("journal.jsonl"))) {
            if (line.isBlank()) {
                continue;
            }
            JsonNode e = Json.MAPPER.readTree(line);
            if (node.equals(e.path("node").asText())) {
                out.add(e.get("type").asText()
                        + (e.hasNonNull("step") ? " " + e.get("step").asText() : ""));
            }
        }
        return out;
    }
}
