package dev.kiln.rollout;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.KilnServer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A SIMULATION of machines for kiln serve --simulate-machines: simulated BMCs and node agents in
 * kiln serve's own process, for measuring the controller at fleet sizes no lab has (bench/rollout.sh)
 * and for crash tests that need no VMs. A "power cycle" takes the boot time and then plays what a
 * node agent does over real HTTP: fetches its boot script (kiln serve records the version it gave),
 * reports booted and ready with that version's identity and kernel, and sends passing results for
 * the checks it was asked to run. Every power action is appended to simulated-power.log in the state
 * directory, so a test can count replacements across a kill -9. A machine named in the state
 * directory's simulated-broken file (one name per line) powers but never comes back, until its
 * name is taken out. Nothing boots for real.
 */
public final class SimulatedMachines implements NodeReplacer {
    private static final Logger LOG = LoggerFactory.getLogger(SimulatedMachines.class);
    public static final String POWER_LOG = "simulated-power.log";
    public static final String BROKEN = "simulated-broken";

    private final KilnServer server;
    private final Duration bootTime;
    private final ScheduledExecutorService clock;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Path powerLog;
    private final java.util.Set<String> broken = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public SimulatedMachines(KilnServer server, Duration bootTime) {
        this.server = server;
        this.bootTime = bootTime;
        this.clock = Executors.newScheduledThreadPool(4, r -> {
            Thread t = new Thread(r, "kiln-simulated-machines");
            t.setDaemon(true);
            return t;
        });
        this.powerLog = server.state().file(POWER_LOG);
    }

    @Override
    public String describe() {
        return "SIMULATED power cycle (" + bootTime.toMillis() / 1000.0 + " s boot, no real machine)";
    }

    /**
     * Powers the simulated fleet on: boots every node that never booted, and goes on with boots a
     * stopped kiln serve cut short (a real machine keeps booting while kiln serve is down: a node
     * power-cycled after its last report boots again now).
     */
    public void powerOn() throws IOException {
        Map<String, Instant> lastPower = new LinkedHashMap<>();
        if (Files.exists(powerLog)) {
            for (String line : Files.readAllLines(powerLog)) {
                String[] f = line.split(" ");
                if (f.length >= 2) {
                    lastPower.put(f[1], Instant.parse(f[0]));
                }
            }
        }
        for (Inventory.Member m : server.inventory().members()) {
            Instant powered = lastPower.get(m.name());
            dev.kiln.fleet.NodeStatus s = server.status(m.mac());
            // Cut short: cycled and not through to ready (or failed) since.
            boolean cutShort = powered != null
                    && (s == null
                            || s.receivedAt() == null
                            || Instant.parse(s.receivedAt()).isBefore(powered)
                            || !("ready".equals(s.step()) || "failed".equals(s.step())));
            if (!server.hasBooted(m.mac()) || cutShort) {
                if (cutShort) {
                    LOG.info(
                            "SIMULATION: {} was power-cycled and had not come up when kiln serve stopped;"
                                    + " it goes on booting",
                            m.name());
                }
                clock.schedule(() -> boot(m.mac()), 10, TimeUnit.MILLISECONDS);
            }
        }
    }

    /**
     * Simulates a machine that powers but never comes back (dead disk controller, bad NIC): its
     * power cycles are logged, its agent never reports again.
     */
    public void breakMachine(String name) {
        broken.add(name);
    }

    @Override
    public String blocker(Node node) {
        return null;
    }

    /** The simulated BMC's own log says whether it already cycled the node to this version. */
    @Override
    public Boolean alreadyReplaced(Node node) throws IOException {
        if (!Files.exists(powerLog)) {
            return false;
        }
        String wanted = " " + node.name() + " " + node.to();
        return Files.readAllLines(powerLog).stream().anyMatch(l -> l.endsWith(wanted));
    }

    @Override
    public String replace(Node node) throws IOException {
        String line = Instant.now() + " " + node.name() + " " + node.to() + "\n";
        Files.writeString(
                powerLog,
                line,
                StandardCharsets.UTF_8,
                StandardOpenOption.CREATE,
                StandardOpenOption.APPEND,
                StandardOpenOption.SYNC);
        if (!broken.contains(node.name()) && !brokenInState(node.name())) {
            clock.schedule(() -> boot(node.mac()), 10, TimeUnit.MILLISECONDS);
        }
        return "SIMULATED power cycle";
    }

    private boolean brokenInState(String name) throws IOException {
        Path file = server.state().file(BROKEN);
        return Files.exists(file)
                && Files.readAllLines(file).stream().map(String::strip).anyMatch(name::equals);
    }

    /** What a booting node's agent sends, over HTTP like a real one. */
    private void boot(String mac) {
        try {
            String base = server.publicUrl();
            send(HttpRequest.newBuilder(URI.create(base + "/ipxe?mac=" + mac))
                    .GET()
                    .build());
            ImageRef image = server.currentImage(mac);
            Manifest manifest = server.store().manifest(image);
            Map<String, Object> identity = new LinkedHashMap<>();
            identity.put("name", manifest.name());
            identity.put("version", manifest.version());
            identity.put("specSha256", manifest.specSha256());
            String kernel = manifest.kernel() == null ? null : manifest.kernel().release();
            long half = Math.max(1, bootTime.toMillis() / 2);
            clock.schedule(() -> report(mac, "booted", identity, kernel), half, TimeUnit.MILLISECONDS);
            clock.schedule(
                    () -> {
                        report(mac, "ready", identity, kernel);
                        checks(mac);
                    },
                    2 * half,
                    TimeUnit.MILLISECONDS);
        } catch (IOException | RuntimeException e) {
            LOG.warn("simulated node {}: boot failed: {}", mac, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void report(String mac, String step, Map<String, Object> image, String kernel) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("step", step);
        body.put("detail", "SIMULATED node");
        body.put("image", image);
        body.put("kernel", kernel);
        post(mac, "/status", body);
    }

    private void checks(String mac) {
        String asked = server.directive(mac).get("kilnChecks");
        if (asked == null) {
            return;
        }
        try {
            List<Map<String, Object>> results = new ArrayList<>();
            for (JsonNode c : Json.MAPPER.readTree(asked).path("node")) {
                results.add(Map.of(
                        "check", c.path("check").asText(), "scope", "node", "status", "pass", "detail", "SIMULATED"));
            }
            post(mac, "/checks", Map.of("checks", results));
        } catch (IOException e) {
            LOG.warn("simulated node {}: kilnChecks unreadable: {}", mac, e.toString());
        }
    }

    private void post(String mac, String path, Object body) {
        try {
            send(HttpRequest.newBuilder(URI.create(server.publicUrl() + path))
                    .header("Authorization", "Bearer " + server.token(mac))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Json.COMPACT.writeValueAsBytes(body)))
                    .build());
        } catch (IOException | RuntimeException e) {
            LOG.warn("simulated node {}: {} failed: {}", mac, path, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void send(HttpRequest req) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() >= 300) {
            throw new IOException(
                    req.uri() + ": HTTP " + r.statusCode() + " " + r.body().strip());
        }
    }

    /** Stops the simulated nodes' timers (kiln serve is shutting down). */
    public void shutdown() {
        clock.shutdownNow();
    }
}
