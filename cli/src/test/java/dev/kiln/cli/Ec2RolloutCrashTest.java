package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.core.json.Json;
import dev.kiln.rollout.PlanRequest;
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
 * waits for it. The node agents are {@link AgentStandIn} (moto boots nothing).
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

    /** Passes a call to moto; keeps the answer of the first armed, real (not DryRun) RunInstances. */
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
            if (form.contains("Action=RunInstances")
                    && !form.contains("DryRun=true")
                    && armed.compareAndSet(true, false)) {
                held.countDown();
                release.await(); // kiln serve is killed while it waits for this answer
                return;
            }
            r.headers().map().forEach((k, vs) -> {
                if (!Set.of("content-length", "transfer-encoding", "connection").contains(k.toLowerCase())) {
                    vs.forEach(v -> ex.getResponseHeaders().add(k, v));
                }
            });
            ex.sendResponseHeaders(r.statusCode(), r.body().length == 0 ? -1 : r.body().length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(r.body());
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
