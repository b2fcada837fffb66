package dev.kiln.rollout.ec2;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.InstanceAttributeName;

/**
 * A STAND-IN for the node agent of the instances moto "launches" (moto boots nothing, so no agent
 * runs): a thread that watches moto for running instances tagged {@code kiln:cluster}, reads each
 * one's user data (the node's metadata document with kiln serve's URL and the node's token, what the
 * real agent reads through IMDSv2), and posts to kiln serve's /status what the agent would: booted,
 * then ready with the image identity {name, version, specSha256} of the version in the instance's
 * {@code kiln:version} tag (read from the store's manifest) and that manifest's kernel; and when the
 * document asks for checks ({@code kilnChecks}), passing /checks results. It never looks at kiln
 * serve's own state: what it reports comes from the instance alone, as with a real node.
 */
public final class AgentStandIn implements AutoCloseable {
    private final Ec2Client ec2;
    private final ImageStore store;
    private final String cluster;
    private final Duration bootTime;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Set<String> seen = ConcurrentHashMap.newKeySet();
    private final Set<String> refused = ConcurrentHashMap.newKeySet();
    private final Map<String, String> reportedBy = new ConcurrentHashMap<>();
    private final List<String> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    private final Thread thread;
    private volatile boolean stop;

    /**
     * @param bootTime between "booted" and "ready": the window in which a node is up but not yet
     *     confirmed
     */
    public AgentStandIn(Ec2Client ec2, ImageStore store, String cluster, Duration bootTime) {
        this.ec2 = ec2;
        this.store = store;
        this.cluster = cluster;
        this.bootTime = bootTime;
        this.thread = new Thread(this::loop, "agent-stand-in-" + cluster);
        thread.setDaemon(true);
    }

    public AgentStandIn start() {
        thread.start();
        return this;
    }

    /** From now on, new instances of {@code node} on {@code version} never report (a broken image). */
    public void refuse(String node, ImageRef version) {
        refused.add(node + " " + version);
    }

    /** Instance id to "node version" of every instance the stand-in reported for. */
    public Map<String, String> reported() {
        return Map.copyOf(reportedBy);
    }

    public List<String> errors() {
        return List.copyOf(errors);
    }

    private void loop() {
        while (!stop) {
            try {
                for (Instance i : running()) {
                    if (seen.add(i.instanceId())) {
                        Thread t = new Thread(() -> boot(i), "agent-stand-in-" + i.instanceId());
                        t.setDaemon(true);
                        t.start();
                    }
                }
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                if (!stop) {
                    errors.add(e.toString());
                }
            }
        }
    }

    private List<Instance> running() {
        List<Instance> out = new ArrayList<>();
        ec2.describeInstancesPaginator(r -> r.filters(
                        Filter.builder()
                                .name("tag:" + Ec2Tags.CLUSTER)
                                .values(cluster)
                                .build(),
                        Filter.builder()
                                .name("instance-state-name")
                                .values("running")
                                .build()))
                .reservations()
                .forEach(r -> out.addAll(r.instances()));
        return out;
    }

    private void boot(Instance i) {
        try {
            String node = Ec2Tags.value(i, Ec2Tags.NODE);
            ImageRef version = Ec2Tags.version(i);
            if (node == null || version == null || refused.contains(node + " " + version)) {
                return;
            }
            String b64 = ec2.describeInstanceAttribute(
                            r -> r.instanceId(i.instanceId()).attribute(InstanceAttributeName.USER_DATA))
                    .userData()
                    .value();
            JsonNode doc = Json.MAPPER.readTree(Base64.getDecoder().decode(b64));
            String server = doc.path("server").asText();
            String token = doc.path("token").asText();
            Manifest m = store.manifest(version);
            Map<String, Object> identity = new LinkedHashMap<>();
            identity.put("name", m.name());
            identity.put("version", m.version());
            identity.put("specSha256", m.specSha256());
            String kernel = m.kernel() == null ? null : m.kernel().release();
            post(server, token, "/status", report("booted", identity, kernel));
            Thread.sleep(bootTime.toMillis());
            post(server, token, "/status", report("ready", identity, kernel));
            if (doc.hasNonNull("kilnChecks")) {
                List<Map<String, Object>> results = new ArrayList<>();
                for (JsonNode c :
                        Json.MAPPER.readTree(doc.get("kilnChecks").asText()).path("node")) {
                    results.add(Map.of(
                            "check",
                            c.path("check").asText(),
                            "scope",
                            "node",
                            "status",
                            "pass",
                            "detail",
                            "stand-in"));
                }
                post(server, token, "/checks", Map.of("checks", results));
            }
            reportedBy.put(i.instanceId(), node + " " + version);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            if (!stop) {
                errors.add(i.instanceId() + ": " + e);
            }
        }
    }

    private static Map<String, Object> report(String step, Map<String, Object> image, String kernel) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("step", step);
        body.put("detail", "agent stand-in (moto boots nothing)");
        body.put("image", image);
        body.put("kernel", kernel);
        return body;
    }

    /** Like the agent, tries again while kiln serve is unreachable (restarting), up to 2 minutes. */
    private void post(String server, String token, String path, Object body) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (true) {
            try {
                postOnce(server, token, path, body);
                return;
            } catch (java.io.IOException e) {
                if (stop || System.nanoTime() - deadline > 0) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
    }

    private void postOnce(String server, String token, String path, Object body) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(server + path))
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofByteArray(Json.COMPACT.writeValueAsBytes(body)))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 300) {
            throw new IllegalStateException(path + ": HTTP " + r.statusCode() + " " + r.body());
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.interrupt();
        thread.join(5000);
    }
}
