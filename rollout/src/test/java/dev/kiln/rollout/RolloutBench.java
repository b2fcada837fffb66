package dev.kiln.rollout;

import dev.kiln.core.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * For bench/rollout.sh (not a test): "split JOURNAL.jsonl" prints each replaced node's time split
 * into drain, power, boot, ready (the role's bootstrap: a master's etcd join), checks and rejoin,
 * from the journal's step events and confirm milestones, then the rollout's nodes per hour.
 */
public final class RolloutBench {
    private RolloutBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2 || !args[0].equals("split")) {
            System.err.println("usage: RolloutBench split JOURNAL.jsonl");
            System.exit(2);
        }
        split(Path.of(args[1]));
    }

    static void split(Path journal) throws Exception {
        List<Journal.Event> events = new ArrayList<>();
        for (String line : Files.readAllLines(journal)) {
            if (!line.isBlank()) {
                events.add(Json.MAPPER.readValue(line, Journal.Event.class));
            }
        }
        Map<String, Map<String, Instant>> at = new LinkedHashMap<>();
        Map<String, String> driver = new LinkedHashMap<>();
        for (Journal.Event e : events) {
            if ("end".equals(e.type()) && "power".equals(e.step()) && e.detail() != null) {
                driver.put(
                        e.node(),
                        e.detail().contains(" ipmi ")
                                ? "ipmi"
                                : e.detail().contains(" redfish ") ? "redfish" : "other");
            }
            if (e.node() == null || e.step() == null) {
                continue;
            }
            String key = switch (e.type()) {
                case "begin" -> "begin " + e.step();
                case "end" -> "end " + e.step();
                case "milestone" -> "seen " + e.step();
                default -> null;
            };
            if (key != null) {
                at.computeIfAbsent(e.node(), k -> new LinkedHashMap<>()).putIfAbsent(key, Instant.parse(e.at()));
            }
        }
        String[] cols = {"drain", "power", "boot", "ready", "checks", "rejoin", "total", "kiln"};
        System.out.printf(
                "%-10s%s%n",
                "node",
                String.join(
                        "",
                        java.util.Arrays.stream(cols)
                                .map(c -> String.format("%9s", c))
                                .toList()));
        double[] sums = new double[cols.length];
        Map<String, Double> kilnBy = new java.util.TreeMap<>();
        int n = 0;
        for (var entry : at.entrySet()) {
            Map<String, Instant> t = entry.getValue();
            if (!t.containsKey("end confirm")) {
                continue;
            }
            double[] v = {
                secs(t.get("begin drain"), t.get("end drain")),
                secs(t.get("begin power"), t.get("end power")),
                secs(t.get("end power"), t.get("seen booted")),
                secs(t.get("seen booted"), t.get("seen ready")),
                secs(t.get("seen ready"), t.get("seen checks")),
                secs(t.get("seen checks"), t.get("end confirm")),
                secs(t.get("begin preflight"), t.get("end confirm")),
                0
            };
            // What kiln itself adds to a replacement: everything but the machine's boot, its
            // bootstrap, its checks and its etcd member's rejoin (preflight, drain, repoint, power).
            v[7] = v[6] - v[2] - v[3] - v[4] - v[5];
            kilnBy.merge(driver.getOrDefault(entry.getKey(), "other"), v[7], Math::max);
            StringBuilder row = new StringBuilder(String.format("%-10s", entry.getKey()));
            for (int i = 0; i < v.length; i++) {
                row.append(String.format("%9.1f", v[i]));
                sums[i] += v[i];
            }
            System.out.println(row);
            n++;
        }
        if (n == 0) {
            System.out.println("no node was confirmed in " + journal);
            return;
        }
        StringBuilder avg = new StringBuilder(String.format("%-10s", "mean"));
        for (double s : sums) {
            avg.append(String.format("%9.1f", s / n));
        }
        System.out.println(avg);
        Instant start = Instant.parse(events.get(0).at());
        Instant end = Instant.parse(events.get(events.size() - 1).at());
        double hours = Duration.between(start, end).toMillis() / 3_600_000.0;
        System.out.printf(
                "%d node(s) in %.0f s: %.1f nodes per hour (seconds; boot = power cycle to the agent's"
                        + " first report, ready = its bootstrap, rejoin = etcd member back and healthy)%n",
                n, hours * 3600, n / hours);
        kilnBy.forEach((d, worst) -> System.out.printf(
                "kiln's own time per node behind %s BMCs (beyond boot, bootstrap, checks, rejoin): at most"
                        + " %.1f s (target: <= 5 s)%n",
                d, worst));
    }

    private static double secs(Instant from, Instant to) {
        return from == null || to == null ? 0 : Duration.between(from, to).toMillis() / 1000.0;
    }
}
