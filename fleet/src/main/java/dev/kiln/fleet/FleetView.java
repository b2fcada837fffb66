package dev.kiln.fleet;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.Sidecar;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Everything the fleet page shows (GET /ui/fleet.json), built fresh from what the server knows: the
 * inventory (desired), the boot scripts it handed out (current), node reports (reported, kernel,
 * step, checks), measured boot times, the store's manifests and validation records, and whatever
 * {@link FleetFeeds} supply (channels, rollouts: empty lists until those exist).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record FleetView(
        String generatedAt,
        String inventory,
        Summary summary,
        List<ClusterView> clusters,
        List<VersionView> versions,
        List<FleetFeeds.Channel> channels,
        List<FleetFeeds.Rollout> rollouts) {

    public record Summary(int nodes, int failed, int drifted, int ready, int silent) {}

    public record ClusterView(String name, int failed, int drifted, int ready, List<NodeRow> nodes) {}

    /**
     * One node. {@code state} orders and colours the row: failed, drifted, ready, booting (a step
     * between boot script and ready), silent (never reported).
     *
     * @param desired what the node should run: the inventory's version, or the one a rollout with
     *     --to set ({@code desiredSetBy})
     * @param desiredSetBy the rollout that set {@code desired}; null when it is the inventory's
     * @param current what this server last handed the node in a boot script (null: never)
     * @param reported what the node's /etc/kiln/image.json says it runs (null: never said)
     * @param drift what differs, in words; empty when nothing does
     * @param expectedKernel uname -r of the version the node runs, from its manifest
     * @param bootSeconds boot script → booted, of the last boot
     * @param readySeconds booted → ready, of the last boot
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record NodeRow(
            String mac,
            String name,
            String role,
            String bootstrapRole,
            String address,
            String desired,
            String desiredSetBy,
            String current,
            String reported,
            List<String> drift,
            String kernel,
            String expectedKernel,
            String step,
            String phase,
            String detail,
            String reportedAt,
            Long ageSeconds,
            Double bootSeconds,
            Double readySeconds,
            List<CheckView> checks,
            String state) {
        public boolean drifted() {
            return !drift.isEmpty();
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record CheckView(String check, String status, String detail) {}

    /**
     * A version some node wants, was given or runs, with its validation verdict.
     *
     * @param inStore false when the store has no such version (a node reports one built elsewhere)
     * @param validation null when the version was never validated
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record VersionView(
            String image,
            boolean inStore,
            String kernel,
            String builtAt,
            int desiredBy,
            int runningOn,
            Verdict validation) {}

    /**
     * From validation.json beside the manifest.
     *
     * @param result the newest run's result (validated, failed)
     * @param lastValidated run id of the newest run that validated it, or null
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Verdict(
            String result,
            String runId,
            String provider,
            Integer masters,
            Integer workers,
            String startedAt,
            int runs,
            String lastValidated) {}

    static final String FAILED = "failed";
    static final String DRIFTED = "drifted";
    static final String READY = "ready";
    static final String BOOTING = "booting";
    static final String SILENT = "silent";
    private static final List<String> ORDER = List.of(FAILED, DRIFTED, BOOTING, SILENT, READY);

    /** The page's data now. */
    static FleetView build(
            Inventory inventory,
            Function<String, NodeStatus> status,
            ServedVersions served,
            BootTimes boots,
            ImageStore store,
            FleetFeeds feeds,
            Instant now) {
        Map<ImageRef, Manifest> manifests = new HashMap<>();
        Map<String, List<NodeRow>> byCluster = new LinkedHashMap<>();
        Map<String, int[]> usage = new LinkedHashMap<>(); // image → {desired by, running on}
        for (Inventory.Member m : inventory.members()) {
            NodeStatus s = status.apply(m.mac());
            ServedVersions.Served given = served.get(m.mac());
            ServedVersions.Desired wanted = served.desired(m);
            String desired = wanted.image();
            String wants = wanted.setBy() == null
                    ? "inventory wants " + desired
                    : "rollout " + wanted.setBy() + " set " + desired;
            String current = given == null ? null : given.image();
            // On "ipxe" the node is rebooting: what it reported belongs to the boot that ended.
            boolean rebooting = s != null && NodeStatus.IPXE.equals(s.step());
            String reported = s == null || rebooting ? null : s.reportedImage();
            List<String> drift = new ArrayList<>();
            if (current != null && !current.equals(desired)) {
                drift.add("boots " + current + ", " + wants);
            }
            if (reported != null && !reported.equals(desired) && !reported.equals(current)) {
                drift.add("runs " + reported + ", " + wants);
            } else if (reported != null && current != null && !reported.equals(current)) {
                drift.add("runs " + reported + " but was given " + current);
            }
            String running = reported != null ? reported : current;
            String expectedKernel = null;
            if (running != null) {
                Manifest mf = manifest(store, manifests, running);
                expectedKernel =
                        mf == null || mf.kernel() == null ? null : mf.kernel().release();
            }
            String kernel = s == null ? null : s.kernel();
            if (kernel != null && expectedKernel != null && !kernel.equals(expectedKernel) && !rebooting) {
                drift.add("kernel " + kernel + ", " + running + " has " + expectedKernel);
            }
            BootTimes.Boot boot = boots.get(m.mac());
            String step = s == null ? null : s.step();
            String state = s == null
                    ? SILENT
                    : "failed".equals(step)
                            ? FAILED
                            : !drift.isEmpty() ? DRIFTED : "ready".equals(step) ? READY : BOOTING;
            byCluster
                    .computeIfAbsent(m.cluster().name(), c -> new ArrayList<>())
                    .add(new NodeRow(
                            m.mac(),
                            m.name(),
                            m.node().role(),
                            m.bootstrapRole(),
                            m.node().address(),
                            desired,
                            wanted.setBy(),
                            current,
                            reported,
                            List.copyOf(drift),
                            kernel,
                            expectedKernel,
                            step,
                            s == null ? null : s.phase(),
                            s == null ? null : s.detail(),
                            s == null ? null : s.receivedAt(),
                            s == null ? null : s.ageSeconds(now),
                            boot == null ? null : boot.bootSeconds(),
                            boot == null ? null : boot.readySeconds(),
                            checks(s),
                            state));
            usage.computeIfAbsent(desired, k -> new int[2])[0]++;
            if (running != null) {
                usage.computeIfAbsent(running, k -> new int[2])[1]++;
            }
        }
        List<ClusterView> clusters = new ArrayList<>();
        int failed = 0;
        int drifted = 0;
        int ready = 0;
        int silent = 0;
        int total = 0;
        for (Map.Entry<String, List<NodeRow>> e : byCluster.entrySet()) {
            List<NodeRow> rows = new ArrayList<>(e.getValue());
            // Stable: within a state, inventory order.
            rows.sort(Comparator.comparingInt(r -> ORDER.indexOf(r.state())));
            int f = (int) rows.stream().filter(r -> FAILED.equals(r.state())).count();
            int d = (int) rows.stream().filter(NodeRow::drifted).count();
            int r = (int) rows.stream().filter(x -> READY.equals(x.state())).count();
            clusters.add(new ClusterView(e.getKey(), f, d, r, List.copyOf(rows)));
            failed += f;
            drifted += d;
            ready += r;
            silent += (int) rows.stream().filter(x -> SILENT.equals(x.state())).count();
            total += rows.size();
        }
        // Clusters with failed nodes first, then with drifted ones, else inventory order.
        clusters.sort(Comparator.comparingInt((ClusterView c) -> c.failed() > 0 ? 0 : c.drifted() > 0 ? 1 : 2));
        List<VersionView> versions = new ArrayList<>();
        for (Map.Entry<String, int[]> u : usage.entrySet()) {
            versions.add(version(store, manifests, u.getKey(), u.getValue()[0], u.getValue()[1]));
        }
        return new FleetView(
                now.toString(),
                inventory.file().toString(),
                new Summary(total, failed, drifted, ready, silent),
                List.copyOf(clusters),
                List.copyOf(versions),
                List.copyOf(feeds.channels()),
                List.copyOf(feeds.rollouts()));
    }

    private static List<CheckView> checks(NodeStatus s) {
        if (s == null || s.checks() == null) {
            return List.of();
        }
        List<CheckView> out = new ArrayList<>();
        for (Map<String, Object> c : s.checks()) {
            out.add(new CheckView(str(c.get("check")), str(c.get("status")), str(c.get("detail"))));
        }
        return out;
    }

    private static String str(Object o) {
        return o == null ? null : o.toString();
    }

    private static Manifest manifest(ImageStore store, Map<ImageRef, Manifest> cache, String image) {
        ImageRef ref;
        try {
            ref = ImageRef.parse(image);
        } catch (IllegalArgumentException e) {
            return null; // a node may report anything
        }
        if (cache.containsKey(ref)) {
            return cache.get(ref);
        }
        Manifest m;
        try {
            m = store.exists(ref) ? store.manifest(ref) : null;
        } catch (IOException | RuntimeException e) {
            m = null;
        }
        cache.put(ref, m);
        return m;
    }

    private static VersionView version(
            ImageStore store, Map<ImageRef, Manifest> cache, String image, int desiredBy, int runningOn) {
        Manifest m = manifest(store, cache, image);
        if (m == null) {
            return new VersionView(image, false, null, null, desiredBy, runningOn, null);
        }
        return new VersionView(
                image,
                true,
                m.kernel() == null ? null : m.kernel().release(),
                m.builtAt(),
                desiredBy,
                runningOn,
                verdict(store, ImageRef.parse(image)));
    }

    /**
     * The validator writes validation.json (validator module, above this one): read as plain JSON.
     */
    static Verdict verdict(ImageStore store, ImageRef ref) {
        JsonNode record;
        try {
            record = Sidecar.read(store.dir(ref), "validation.json", JsonNode.class);
        } catch (IOException e) {
            return new Verdict("unreadable validation.json: " + e.getMessage(), null, null, null, null, null, 0, null);
        }
        JsonNode runs = record == null ? null : record.get("runs");
        if (runs == null || !runs.isArray() || runs.isEmpty()) {
            return null;
        }
        JsonNode last = runs.get(runs.size() - 1);
        String lastValidated = null;
        for (int i = runs.size() - 1; i >= 0 && lastValidated == null; i--) {
            if ("validated".equals(runs.get(i).path("result").asText())) {
                lastValidated = runs.get(i).path("runId").asText(null);
            }
        }
        return new Verdict(
                last.path("result").asText(null),
                last.path("runId").asText(null),
                last.path("provider").asText(null),
                last.has("masters") ? last.get("masters").asInt() : null,
                last.has("workers") ? last.get("workers").asInt() : null,
                last.path("startedAt").asText(null),
                runs.size(),
                lastValidated);
    }

    /**
     * Distinct images some node is desired to run, in the order first seen (for /images' "in use").
     */
    static Set<String> inUse(Inventory inventory) {
        Set<String> out = new LinkedHashSet<>();
        inventory.members().forEach(m -> out.add(m.image().toString()));
        return out;
    }
}
