package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.kiln.core.exec.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GET /metrics of a real kiln serve whose nodes reported, checked by value and by promtool. */
class MetricsTest {
    @TempDir
    Path tmp;

    @Test
    void metricsCountNodesDriftBootTimesRequestsBytesAndRefusals() throws Exception {
        try (FleetFixture f = new FleetFixture(tmp, null)) {
            f.fleetInVariousStates();
            assertThat(f.get("/images/debian-node/1.0.0/pxe/rootfs.squashfs").statusCode())
                    .isEqualTo(200);
            f.get("/ipxe?mac=52:54:00:99:99:99"); // unknown MAC
            f.get("/metadata", "Authorization", "Bearer nonsense"); // bad token
            f.get("/nodes"); // no operator credential
            String m = f.get("/metrics", f.operator()).body();

            assertThat(m)
                    .contains("kiln_nodes{cluster=\"lab\",image=\"debian-node:1.0.0\",step=\"ready\"} 2.0")
                    .contains("kiln_nodes{cluster=\"lab\",image=\"debian-node:1.0.0\",step=\"failed\"} 1.0")
                    .contains("kiln_nodes{cluster=\"lab\",image=\"debian-node:1.0.0\",step=\"metadata-fetched\"} 1.0")
                    .contains("kiln_nodes_drifted{cluster=\"lab\"} 1.0")
                    .contains("kiln_refusals_total{endpoint=\"/ipxe\",reason=\"unknown-mac\"} 1.0")
                    .contains("kiln_refusals_total{endpoint=\"/metadata\",reason=\"bad-token\"} 1.0")
                    .contains("kiln_refusals_total{endpoint=\"/nodes\",reason=\"operator-credential\"} 1.0")
                    .contains("kiln_http_requests_total{code=\"204\",endpoint=\"/status\"} 6.0")
                    .contains("kiln_http_requests_total{code=\"401\",endpoint=\"/nodes\"} 1.0")
                    .as("no rollouts: the family has no series, so it is not written")
                    .doesNotContain("kiln_rollout_nodes");
            // Two nodes reached ready: m1 through its boot script, w2 without one (no "booted"
            // seen: not measured).
            assertThat(value(m, "kiln_node_boot_to_ready_seconds_count{cluster=\"lab\"}"))
                    .isEqualTo(1.0);
            assertThat(value(m, "kiln_node_boot_to_ready_seconds_bucket{cluster=\"lab\",le=\"+Inf\"}"))
                    .isEqualTo(1.0);
            assertThat(value(m, "kiln_http_response_bytes_total{endpoint=\"/images\"}"))
                    .isGreaterThanOrEqualTo(64 * 1024);
        }
    }

    @Test
    void aRolloutPluggedInShowsAsProgressByState() throws Exception {
        try (FleetFixture f = new FleetFixture(tmp, null)) {
            f.server.feeds(new FleetFeeds() {
                @Override
                public java.util.List<Rollout> rollouts() {
                    return java.util.List.of(new Rollout(
                            "r1",
                            "lab",
                            "debian-node:1.0.1",
                            "running",
                            null,
                            "power w1",
                            "2026-11-29T10:00:00Z",
                            600L,
                            120L,
                            java.util.List.of(
                                    new Batch(
                                            1,
                                            java.util.List.of(new RolloutNode(
                                                    "m1",
                                                    "debian-node:1.0.0",
                                                    "debian-node:1.0.1",
                                                    "confirm",
                                                    "done"))),
                                    new Batch(
                                            2,
                                            java.util.List.of(
                                                    new RolloutNode(
                                                            "w1",
                                                            "debian-node:1.0.0",
                                                            "debian-node:1.0.1",
                                                            "power",
                                                            "in-progress"),
                                                    new RolloutNode(
                                                            "w2",
                                                            "debian-node:1.0.0",
                                                            "debian-node:1.0.1",
                                                            null,
                                                            "pending"))))));
                }
            });
            String m = f.get("/metrics", f.operator()).body();
            assertThat(m)
                    .contains("kiln_rollout_nodes{cluster=\"lab\",rollout=\"r1\",state=\"done\"} 1.0")
                    .contains("kiln_rollout_nodes{cluster=\"lab\",rollout=\"r1\",state=\"in-progress\"} 1.0")
                    .contains("kiln_rollout_nodes{cluster=\"lab\",rollout=\"r1\",state=\"pending\"} 1.0");
            assertThat(FleetFixture.JSON
                            .readTree(f.get("/ui/fleet.json", f.operator()).body())
                            .at("/rollouts/0/currentStep")
                            .asText())
                    .isEqualTo("power w1");
        }
    }

    @Test
    void promtoolAcceptsTheExposition() throws Exception {
        Path promtool = Path.of("/usr/bin/promtool");
        if (!Files.isExecutable(promtool)) {
            String why = "promtool is not installed (Debian package prometheus; ci/install-deps.sh installs it)";
            if (Boolean.parseBoolean(System.getProperty("kiln.requireTools", "true"))) {
                fail(why);
            }
            Assumptions.abort(why);
        }
        try (FleetFixture f = new FleetFixture(tmp, null)) {
            f.fleetInVariousStates();
            f.get("/ipxe?mac=52:54:00:99:99:99");
            f.get("/nodes");
            Path file = tmp.resolve("metrics.txt");
            Files.writeString(file, f.get("/metrics", f.operator()).body());
            // promtool reads the exposition on stdin and prints lint problems; exit 0 means none.
            Exec.Result r =
                    Exec.of("sh", "-c", "promtool check metrics < " + file).runAllowingFailure();
            assertThat(r.exitCode())
                    .as("promtool check metrics:\n" + r.output() + "\n" + Files.readString(file))
                    .isZero();
        }
    }

    static double value(String exposition, String series) {
        Matcher m = Pattern.compile("^" + Pattern.quote(series) + " (\\S+)$", Pattern.MULTILINE)
                .matcher(exposition);
        if (!m.find()) {
            throw new AssertionError("no series " + series + " in:\n" + exposition);
        }
        return Double.parseDouble(m.group(1));
    }
}
