package dev.kiln.rollout;

import dev.kiln.core.store.ChannelRef;
import dev.kiln.core.store.ChannelResolver;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ValidationRecord;
import dev.kiln.core.util.Hashing;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.NodeStatus;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * Makes a {@link Plan} from what kiln serve knows now: the inventory (who is in the cluster, what
 * it should run), each node's current version and last report, the boot times it measured; plus the
 * cluster's own health and a read-only probe of every machine. Read-only: nothing is touched.
 */
final class Planner {
    /** Boot to ready when kiln serve has measured none yet (a diskless boot under TCG is ~60 s). */
    static final double DEFAULT_BOOT_SECONDS = 90;

    /** Drain and confirmation on top of the boot, per node. */
    static final double STEP_OVERHEAD_SECONDS = 15;

    private final FleetState server;
    private final RolloutController.Drivers drivers;
    private final EngineEnv env;

    Planner(FleetState server, RolloutController.Drivers drivers, EngineEnv env) {
        this.server = server;
        this.drivers = drivers;
        this.env = env;
    }

    /** The cluster's members in inventory order, or an error naming the inventory. */
    List<Inventory.Member> members(String cluster) {
        Inventory inv = server.inventory();
        List<Inventory.Member> ms = inv.members().stream()
                .filter(m -> m.cluster().name().equals(cluster))
                .toList();
        if (ms.isEmpty()) {
            throw new IllegalArgumentException("--cluster: no cluster '"
                    + cluster
                    + "' in the inventory "
                    + inv.file()
                    + " (it has: "
                    + String.join(
                            ", ",
                            inv.members().stream()
                                    .map(m -> m.cluster().name())
                                    .distinct()
                                    .toList())
                    + ")");
        }
        return ms;
    }

    /**
     * @param active the id of a rollout running on this cluster, or null
     */
    Plan plan(PlanRequest req, NodeReplacer replacer, ClusterGuard guard, String active, String rollbackOf)
            throws InterruptedException {
        List<Inventory.Member> members = members(req.cluster());
        List<String> blockers = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        if (active != null) {
            blockers.add("rollout " + active + " is already running on cluster " + req.cluster()
                    + " (one rollout per cluster; kiln rollout status " + active + ")");
        }
        Map<String, ImageRef> targets = new LinkedHashMap<>();
        for (Inventory.Member m : members) {
            ImageRef to = target(req, m, blockers);
            if (to != null) {
                targets.put(m.mac(), to);
            }
        }
        return build(req, members, targets, replacer, guard, blockers, notes, rollbackOf);
    }

    /**
     * A plan taking each listed node (MAC) to the given version: a rollback. Every target is checked
     * as in {@link #plan} (revoked, unavailable, not in the store, no PXE output), except the
     * environment a cluster follows: a rollback goes back to what ran before.
     */
    Plan planTo(
            PlanRequest req,
            Map<String, ImageRef> targets,
            NodeReplacer replacer,
            ClusterGuard guard,
            String active,
            String rollbackOf)
            throws InterruptedException {
        List<Inventory.Member> members = members(req.cluster());
        List<String> blockers = new ArrayList<>();
        if (active != null) {
            blockers.add("rollout " + active + " is already running on cluster " + req.cluster());
        }
        return build(req, members, targets, replacer, guard, blockers, new ArrayList<>(), rollbackOf);
    }

    private Plan build(
            PlanRequest req,
            List<Inventory.Member> members,
            Map<String, ImageRef> targets,
            NodeReplacer replacer,
            ClusterGuard guard,
            List<String> blockers,
            List<String> notes,
            String rollbackOf)
            throws InterruptedException {
        for (ImageRef t : targets.values().stream().distinct().toList()) {
            checkTarget(t, req, members, blockers, rollbackOf == null);
        }
        int budget = Budget.of(req.maxUnavailable(), members.size());
        List<Plan.Node> masters = new ArrayList<>();
        List<Plan.Node> workers = new ArrayList<>();
        List<String> already = new ArrayList<>();
        List<Plan.Node> allMasters = new ArrayList<>();
        for (Inventory.Member m : members) {
            boolean fresh = !server.hasBooted(m.mac());
            ImageRef current = fresh ? null : server.currentImage(m.mac());
            ImageRef to = targets.get(m.mac());
            String artifact = null;
            if (to != null) {
                try {
                    artifact = drivers.artifact(req.cluster(), to);
                } catch (IOException e) {
                    if (!blockers.contains(e.getMessage())) {
                        blockers.add(e.getMessage());
                    }
                }
            }
            Plan.Node node =
                    node(m, current, to == null ? server.currentImage(m.mac()) : to, artifact, replacer, guard);
            if (m.isMaster()) {
                allMasters.add(node);
            }
            if (to == null) {
                continue;
            }
            if (!fresh && to.equals(current)) {
                already.add(m.name());
                continue;
            }
            health(m, blockers, notes);
            (m.isMaster() ? masters : workers).add(node);
        }
        if (!already.isEmpty()) {
            notes.add("already on their target: " + String.join(", ", already));
        }
        if (!masters.isEmpty() || !workers.isEmpty()) {
            blockers.addAll(guard.blockers(allMasters));
            blockers.addAll(probe(req.cluster(), concat(masters, workers), replacer));
        }
        List<Plan.Batch> batches = new ArrayList<>();
        if (members.stream().noneMatch(m -> server.hasBooted(m.mac()))) {
            // Bring-up from nothing: every node at once; the first master waits for its peers.
            notes.add("no node of cluster " + req.cluster() + " has booted: all are brought up together");
            batches.add(new Plan.Batch(1, concat(masters, workers)));
            masters = List.of();
            workers = List.of();
        }
        for (Plan.Node m : masters) {
            batches.add(new Plan.Batch(batches.size() + 1, List.of(m)));
        }
        for (int i = 0; i < workers.size(); i += budget) {
            batches.add(new Plan.Batch(
                    batches.size() + 1, List.copyOf(workers.subList(i, Math.min(workers.size(), i + budget)))));
        }
        double boot = bootSeconds(members);
        long estimate = Math.round(batches.size() * (boot + STEP_OVERHEAD_SECONDS));
        notes.add(String.format(
                "estimate from a boot-to-ready of %.0f s per node (%s)",
                boot, measured(members) ? "measured by this kiln serve" : "none measured yet; assumed"));
        return new Plan(
                Plan.SCHEMA,
                req.cluster(),
                targets.values().stream()
                        .distinct()
                        .map(ImageRef::toString)
                        .reduce((a, b) -> a + ", " + b)
                        .orElse(null),
                req.to() == null ? "the inventory's versions" : req.to(),
                budget,
                req.maxUnavailable(),
                req.onFailure(),
                req.drainTimeoutSeconds(),
                req.nodeTimeoutSeconds(),
                req.forceDrain(),
                req.allowUnvalidated(),
                rollbackOf,
                batches,
                blockers,
                notes,
                estimate,
                stateHash(req.cluster(), targets),
                env.now().toString());
    }

    /**
     * Every machine's read-only probe (its BMC, its instance), at once: a plan waits for the slowest
     * BMC, not for the sum of them (8 at a time, which API rate limits allow). Blockers come back in
     * plan order.
     */
    private List<String> probe(String cluster, List<Plan.Node> nodes, NodeReplacer replacer)
            throws InterruptedException {
        List<java.util.concurrent.Callable<String>> asks = new ArrayList<>();
        for (Plan.Node n : nodes) {
            asks.add(() -> replacer.blocker(new NodeReplacer.Node(
                    cluster,
                    n.name(),
                    n.mac(),
                    n.role(),
                    n.address(),
                    n.from() == null ? null : ImageRef.parse(n.from()),
                    ImageRef.parse(n.to()),
                    n.artifact())));
        }
        List<Future<String>> answers = env.all("kiln-plan-probe", 8, asks);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            try {
                String b = answers.get(i).get();
                if (b != null) {
                    out.add(b);
                }
            } catch (ExecutionException e) {
                out.add("probing " + nodes.get(i).name() + " failed: " + e.getCause());
            }
        }
        return out;
    }

    private Plan.Node node(
            Inventory.Member m,
            ImageRef current,
            ImageRef to,
            String artifact,
            NodeReplacer replacer,
            ClusterGuard guard) {
        List<String> waits = new ArrayList<>();
        boolean master = m.isMaster();
        waits.add(
                "preflight: every node ready" + (master ? "; etcd healthy and removing one member keeps quorum" : ""));
        waits.add("drain: " + guard.drainPlan(master));
        waits.add("repoint: kiln serve hands it " + to);
        waits.add("power: " + replacer.describe());
        waits.add("confirm: its phone-home reports " + to + " and the target kernel, ready, the spec's node checks pass"
                + (master ? ", its new etcd member started and the cluster healthy" : ""));
        return new Plan.Node(
                m.name(),
                m.mac(),
                m.node().role(),
                m.node().address(),
                // Never booted: no from (not the string "null", which reads as an image reference).
                current == null ? null : current.toString(),
                to.toString(),
                artifact,
                waits);
    }

    private void health(Inventory.Member m, List<String> blockers, List<String> notes) {
        if (!server.hasBooted(m.mac())) {
            notes.add(m.name() + " has never booted from this kiln serve: it is brought up, nothing to drain");
            return;
        }
        NodeStatus s = server.status(m.mac());
        ImageRef current = server.currentImage(m.mac());
        if (s == null) {
            blockers.add(m.name() + " is not reporting: it never reported to this kiln serve");
        } else if (!"ready".equals(s.step())) {
            blockers.add(m.name() + " is not ready: its last report is '" + s.step() + "'"
                    + (s.detail() == null ? "" : " (" + s.detail() + ")") + ", " + s.ageSeconds(env.now())
                    + " s ago");
        } else if (s.reportedImage() != null && !s.reportedImage().equals(String.valueOf(current))) {
            blockers.add(m.name() + " runs " + s.reportedImage() + " but kiln serve gave it " + current);
        }
    }

    private ImageRef target(PlanRequest req, Inventory.Member m, List<String> blockers) {
        if (req.to() == null) {
            // The node's desired version: the inventory's, or one an earlier --to set over it.
            ImageRef desired = server.desiredImage(m.mac());
            return desired == null ? m.image() : desired;
        }
        if (ChannelRef.isChannel(req.to())) {
            ChannelRef ch;
            try {
                ch = ChannelRef.parse(req.to());
            } catch (IllegalArgumentException e) {
                blockers.add("--to: " + e.getMessage());
                return null;
            }
            ChannelResolver.Assignment a = server.inventory().channels().resolve(ch);
            if (a == null) {
                if (!blockers.contains("--to: no channel " + ch)) {
                    blockers.add("--to: no channel " + ch + " (nothing was promoted to " + ch.env() + ")");
                }
                return null;
            }
            return a.version();
        }
        try {
            return ImageRef.parse(req.to());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--to: expected NAME:VERSION or NAME@ENV, got '" + req.to() + "'");
        }
    }

    private void checkTarget(
            ImageRef t, PlanRequest req, List<Inventory.Member> members, List<String> blockers, boolean followEnv) {
        String revoked = server.revoked(t);
        if (revoked != null) {
            blockers.add("target " + t + " is revoked (" + revoked + ")");
        }
        String unavailable = server.images().unavailable(t);
        if (unavailable != null) {
            blockers.add("target " + t + ": " + unavailable);
            return;
        }
        Manifest manifest;
        try {
            manifest = server.store().manifest(t);
        } catch (IOException e) {
            blockers.add("target " + t + " is not in kiln serve's store");
            return;
        }
        try {
            ValidationRecord v = ValidationRecord.read(server.store().dir(t));
            boolean validated = v != null && v.runsOrEmpty().stream().anyMatch(ValidationRecord.Run::validated);
            if (!validated && !req.allowUnvalidated()) {
                blockers.add(
                        "target " + t + " was never validated (kiln validate " + t + "), or pass --allow-unvalidated");
            }
        } catch (IOException e) {
            blockers.add("target " + t + ": its validation.json is unreadable: " + e.getMessage());
        }
        // A cluster that follows NAME@ENV only gets what that environment points at.
        for (Inventory.Member m : members) {
            if (!followEnv || m.channel() == null || !m.image().name().equals(t.name())) {
                continue;
            }
            if (!m.image().equals(t)) {
                blockers.add("target " + t + " is not in environment "
                        + ChannelRef.parse(m.channel()).env()
                        + " that cluster " + req.cluster() + " follows (" + m.channel() + " points at " + m.image()
                        + "; kiln promote it first)");
            }
            break;
        }
        if (drivers.networkBoot(req.cluster())
                && (manifest.artifacts() == null || !manifest.artifacts().containsKey("pxe/vmlinuz"))) {
            blockers.add("target " + t + " has no pxe output; bare-metal nodes boot over the network");
        }
    }

    private double bootSeconds(List<Inventory.Member> members) {
        List<Double> seen = members.stream()
                .map(m -> server.lastBootSeconds(m.mac()))
                .filter(java.util.Objects::nonNull)
                .sorted()
                .toList();
        return seen.isEmpty() ? DEFAULT_BOOT_SECONDS : seen.get(seen.size() / 2);
    }

    private boolean measured(List<Inventory.Member> members) {
        return members.stream().anyMatch(m -> server.lastBootSeconds(m.mac()) != null);
    }

    /**
     * What the plan was made from: each node's current version, desired version and last step, and
     * the targets. Heartbeat times are left out: they change without anything changing.
     */
    String stateHash(String cluster, Map<String, ImageRef> targets) {
        StringBuilder b = new StringBuilder(cluster).append('\n');
        for (Inventory.Member m : members(cluster)) {
            NodeStatus s = server.status(m.mac());
            b.append(m.name())
                    .append('|')
                    .append(m.mac())
                    .append('|')
                    .append(server.currentImage(m.mac()))
                    .append('|')
                    .append(m.image())
                    .append('|')
                    .append(s == null ? "-" : s.step())
                    .append('|')
                    .append(s == null ? "-" : s.reportedImage())
                    .append('|')
                    .append(targets.get(m.mac()))
                    .append('\n');
        }
        return Hashing.sha256(b.toString());
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
