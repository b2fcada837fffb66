package dev.kiln.fleet;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.RequestLog;
import org.eclipse.jetty.server.Response;

/**
 * GET /metrics: the Prometheus client's registry, one per server (tests run several in a JVM).
 * Request counts and bytes come from Jetty's request log, which sees every response after it is
 * written, whichever handler made it. Fleet gauges are computed at scrape time from one {@link
 * FleetView}, so they can never disagree with the page.
 */
final class FleetMetrics implements RequestLog {
    /**
     * Endpoint label values: a fixed set, so a scanner's random paths cannot blow up the series.
     */
    private static final List<String> ENDPOINTS = List.of(
            "/boot.ipxe", "/ipxe", "/images", "/metadata", "/status", "/checks", "/peers", "/nodes", "/ui", "/metrics");

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final Counter requests;
    private final Counter errors;
    private final Counter bytes;
    private final Counter refusals;
    private final Histogram bootToReady;
    private final Supplier<FleetView> fleet;

    /** The view of the scrape in progress, shared by every gauge callback of that scrape. */
    private FleetView scraping;

    FleetMetrics(Supplier<FleetView> fleet) {
        this.fleet = fleet;
        requests = Counter.builder()
                .name("kiln_http_requests")
                .help("HTTP requests answered, by endpoint and status code")
                .labelNames("endpoint", "code")
                .register(registry);
        errors = Counter.builder()
                .name("kiln_http_errors")
                .help("HTTP requests answered with a server error (5xx), by endpoint")
                .labelNames("endpoint")
                .register(registry);
        bytes = Counter.builder()
                .name("kiln_http_response_bytes")
                .help("Response body bytes sent, by endpoint")
                .labelNames("endpoint")
                .register(registry);
        refusals = Counter.builder()
                .name("kiln_refusals")
                .help("Requests refused: unknown-mac, bad-mac, unbootable, no-token, bad-token, operator-credential")
                .labelNames("endpoint", "reason")
                .register(registry);
        bootToReady = Histogram.builder()
                .name("kiln_node_boot_to_ready_seconds")
                .help("Seconds from a node's boot script (else its 'booted' report) to its 'ready' report")
                .classicOnly()
                .classicUpperBounds(15, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1800)
                .labelNames("cluster")
                .register(registry);
        GaugeWithCallback.builder()
                .name("kiln_nodes")
                .help("Nodes by cluster, last step (none: never reported) and the"
                        + " image they run (reported, else the one last served; unknown: neither)")
                .labelNames("cluster", "step", "image")
                .callback(cb -> {
                    Map<List<String>, Integer> counts = new HashMap<>();
                    for (FleetView.ClusterView c : view().clusters()) {
                        for (FleetView.NodeRow n : c.nodes()) {
                            String image =
                                    n.reported() != null ? n.reported() : n.current() != null ? n.current() : "unknown";
                            counts.merge(
                                    List.of(c.name(), n.step() == null ? "none" : n.step(), image), 1, Integer::sum);
                        }
                    }
                    counts.forEach((labels, count) -> cb.call(count, labels.toArray(String[]::new)));
                })
                .register(registry);
        GaugeWithCallback.builder()
                .name("kiln_nodes_drifted")
                .help("Nodes whose current or reported image (or kernel) differs from what the inventory wants")
                .labelNames("cluster")
                .callback(cb -> {
                    for (FleetView.ClusterView c : view().clusters()) {
                        cb.call(c.drifted(), c.name());
                    }
                })
                .register(registry);
        GaugeWithCallback.builder()
                .name("kiln_rollout_nodes")
                .help(
                        "Nodes of each rollout by state (pending, in-progress, done, failed, skipped); no series without rollouts")
                .labelNames("rollout", "cluster", "state")
                .callback(cb -> {
                    for (FleetFeeds.Rollout r : view().rollouts()) {
                        Map<String, Integer> byState = new HashMap<>();
                        for (FleetFeeds.Batch b : r.batches() == null ? List.<FleetFeeds.Batch>of() : r.batches()) {
                            for (FleetFeeds.RolloutNode n : b.nodes()) {
                                byState.merge(n.state() == null ? "pending" : n.state(), 1, Integer::sum);
                            }
                        }
                        byState.forEach((state, count) -> cb.call(count, r.id(), r.cluster(), state));
                    }
                })
                .register(registry);
    }

    private FleetView view() {
        FleetView v = scraping;
        return v != null ? v : fleet.get();
    }

    /** The registry in Prometheus text format 0.0.4. */
    synchronized byte[] scrape() throws IOException {
        scraping = fleet.get();
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            writer.write(out, registry.scrape());
            return out.toByteArray();
        } finally {
            scraping = null;
        }
    }

    String contentType() {
        return writer.getContentType();
    }

    void refused(String endpoint, String reason) {
        refusals.labelValues(endpoint, reason).inc();
    }

    void bootToReady(String cluster, double seconds) {
        bootToReady.labelValues(cluster).observe(seconds);
    }

    static String endpoint(String path) {
        if (path == null) {
            return "other";
        }
        for (String e : ENDPOINTS) {
            if (path.equals(e) || path.startsWith(e + "/")) {
                return e;
            }
        }
        return "other";
    }

    @Override
    public void log(Request request, Response response) {
        String endpoint = endpoint(request.getRequestURI());
        int code = response.getCommittedMetaData() != null
                ? response.getCommittedMetaData().getStatus()
                : response.getStatus();
        requests.labelValues(endpoint, Integer.toString(code)).inc();
        if (code >= 500) {
            errors.labelValues(endpoint).inc();
        }
        bytes.labelValues(endpoint).inc(response.getHttpChannel().getBytesWritten());
    }
}
