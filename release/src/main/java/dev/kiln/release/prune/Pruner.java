package dev.kiln.release.prune;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Published;
import dev.kiln.release.Event;
import dev.kiln.release.Ledger;
import dev.kiln.release.Releases;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * kiln prune: decides which versions go and deletes them, crash-safely. A version goes when the
 * policy lets it and nothing protects it. Protections, each printed as the reason it is kept:
 *
 * <ul>
 *   <li>an environment points at it (its channel, from the promotion records);
 *   <li>it is an environment's rollback window: the version before its current one, where {@code
 *       kiln promote NAME --rollback ENV} would take it;
 *   <li>a node is assigned it, was last booted with it or reports running it (kiln serve), or,
 *       without a server to ask, an inventory assigns it;
 *   <li>a rollout in progress references it ({@link Rollouts});
 *   <li>it is pinned (kiln pin);
 *   <li>it has AMIs and --amis was not given (deleting the version would forget them), or one of
 *       its AMIs is still the value of an SSM parameter.
 * </ul>
 *
 * Order of deletion for a version: its AMIs (deregister, then the snapshot, each region), then the
 * version in the store (hidden in one step, then removed). A run first finishes what a killed run
 * left.
 */
public final class Pruner {
    /** One version and the verdict. */
    public record Item(
            ImageRef ref,
            Instant builtAt,
            long bytes,
            boolean delete,
            List<String> reasons,
            List<Published.Ami> amis) {}

    /** What a prune will do (or, dry, would do). */
    public record Plan(
            List<Item> items,
            List<String> notes,
            List<NodeImages.NodeImage> nodeImages,
            List<LayerCache.Layer> layers,
            Set<ImageRef> remaining) {
        public List<Item> deleted() {
            return items.stream().filter(Item::delete).toList();
        }

        public List<Item> kept() {
            return items.stream().filter(i -> !i.delete()).toList();
        }
    }

    private final VersionStore store;
    private final Releases releases;
    private final FleetUse fleet;
    private final Rollouts rollouts;
    private final Amis amis;
    private final Clock clock;

    /**
     * @param amis null: AMIs are not deleted, so versions that have some are kept
     */
    public Pruner(VersionStore store, Releases releases, FleetUse fleet, Rollouts rollouts, Amis amis, Clock clock) {
        this.store = store;
        this.releases = releases;
        this.fleet = fleet;
        this.rollouts = rollouts;
        this.amis = amis;
        this.clock = clock;
    }

    /**
     * Decides. {@code docker}: also list kiln-node images of versions that will be gone; {@code
     * cacheDir}/{@code cacheMax}: also the package layers beyond the bound (null: no bound).
     */
    public Plan plan(Policy policy, boolean docker, Path cacheDir, Long cacheMax) throws IOException {
        List<String> notes = new ArrayList<>();
        List<VersionStore.Version> versions = new ArrayList<>(store.versions());
        Map<ImageRef, List<String>> protect = new HashMap<>();
        Set<String> names = new LinkedHashSet<>();
        versions.forEach(v -> names.add(v.ref().name()));

        Map<String, Ledger> ledgers = new HashMap<>();
        for (String name : names) {
            Ledger ledger = releases.ledger(name);
            ledgers.put(name, ledger);
            for (String env : ledger.environments()) {
                Event cur = ledger.current(env);
                reason(
                        protect,
                        new ImageRef(name, cur.version()),
                        env + " points to it (since " + cur.at() + ", by " + cur.by() + ", event #" + cur.seq() + ")");
                if (cur.previousVersion() != null) {
                    reason(
                            protect,
                            new ImageRef(name, cur.previousVersion()),
                            env + "'s rollback window: kiln promote " + name + " --rollback " + env + " returns to it");
                }
            }
            ledger.pins()
                    .forEach((version, pin) -> reason(
                            protect,
                            new ImageRef(name, version),
                            "pinned by " + pin.by() + " at " + pin.at() + ": " + pin.reason()));
        }

        if (!fleet.checkedServer()) {
            notes.add("could not check what nodes run or are assigned: no kiln serve to ask (--server); "
                    + (fleet.source().startsWith("no ")
                            ? "no --inventory given either, so no node's version is known to keep"
                            : "keeping what " + fleet.source() + " assign"));
        } else {
            notes.add("nodes: asked " + fleet.source());
        }
        for (FleetUse.Use u : fleet.uses()) {
            ImageRef ref = resolve(u.image(), ledgers);
            if (ref != null) {
                reason(protect, ref, u.why() + (u.image().contains("@") ? " (as " + u.image() + ")" : ""));
            }
        }
        notes.add("rollouts: " + rollouts.describe());
        rollouts.referenced().forEach((ref, why) -> reason(protect, ref, "rollout in progress: " + why));

        // The policy, per image: newest first.
        versions.sort(Comparator.comparing((VersionStore.Version v) -> v.ref().name())
                .thenComparing(VersionStore.Version::builtAt, Comparator.reverseOrder())
                .thenComparing(v -> v.ref().version(), Comparator.reverseOrder()));
        Instant now = clock.instant();
        Map<String, Integer> rank = new HashMap<>();
        List<Item> items = new ArrayList<>();
        for (VersionStore.Version v : versions) {
            int r = rank.merge(v.ref().name(), 1, Integer::sum);
            List<String> reasons = new ArrayList<>(protect.getOrDefault(v.ref(), List.of()));
            if (policy.keep() != null && r <= policy.keep()) {
                reasons.add("one of the newest "
                        + policy.keep()
                        + " of "
                        + v.ref().name()
                        + " (--keep "
                        + policy.keep()
                        + ")");
            }
            if (policy.olderThan() != null && v.builtAt().isAfter(now.minus(policy.olderThan()))) {
                reasons.add(
                        "built " + v.builtAt() + ", less than " + human(policy.olderThan()) + " ago (--older-than)");
            }
            List<Published.Ami> ownAmis = Amis.of(store.recordsDir(v.ref()));
            if (reasons.isEmpty() && !ownAmis.isEmpty()) {
                if (amis == null) {
                    reasons.add("it has "
                            + ownAmis.size()
                            + " AMIs (published.json): add --amis to delete them with it"
                            + " (deleting only the version would forget them)");
                } else {
                    reasons.addAll(amis.blockers(ownAmis));
                }
            }
            items.add(new Item(v.ref(), v.builtAt(), v.bytes(), reasons.isEmpty(), List.copyOf(reasons), ownAmis));
        }

        Set<ImageRef> remaining = new LinkedHashSet<>();
        items.stream().filter(i -> !i.delete()).forEach(i -> remaining.add(i.ref()));
        List<NodeImages.NodeImage> nodeImages = List.of();
        if (docker) {
            List<String> why = new ArrayList<>();
            List<NodeImages.NodeImage> all = NodeImages.list(why);
            if (all == null) {
                notes.add("kiln-node Docker images not checked: " + String.join("; ", why));
            } else {
                nodeImages = NodeImages.stale(all, store.names(), remaining);
            }
        }
        List<LayerCache.Layer> layers = List.of();
        if (cacheMax != null) {
            layers = LayerCache.overBudget(LayerCache.layers(cacheDir), cacheMax);
        }
        return new Plan(items, notes, nodeImages, layers, remaining);
    }

    /** NAME:VERSION as is; NAME@ENV through the image's channel; anything else null. */
    private ImageRef resolve(String image, Map<String, Ledger> ledgers) throws IOException {
        int at = image.indexOf('@');
        if (at > 0) {
            String name = image.substring(0, at);
            Ledger l = ledgers.containsKey(name) ? ledgers.get(name) : releases.ledger(name);
            Event cur = l.current(image.substring(at + 1));
            return cur == null ? null : new ImageRef(name, cur.version());
        }
        try {
            return ImageRef.parse(image);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static void reason(Map<ImageRef, List<String>> protect, ImageRef ref, String why) {
        List<String> list = protect.computeIfAbsent(ref, r -> new ArrayList<>());
        if (!list.contains(why)) {
            list.add(why);
        }
    }

    /**
     * Prints the plan: notes, then each version (delete or keep with every reason), images and
     * layers.
     */
    public static void print(Plan plan, boolean dryRun, Consumer<String> out) {
        plan.notes().forEach(n -> out.accept("note: " + n));
        for (Item i : plan.items()) {
            if (i.delete()) {
                out.accept((dryRun ? "would delete " : "delete       ")
                        + i.ref()
                        + "  (built "
                        + i.builtAt()
                        + ", "
                        + bytes(i.bytes())
                        + (i.amis().isEmpty() ? "" : ", " + i.amis().size() + " AMIs and their snapshots")
                        + ")");
            } else {
                out.accept("keep         " + i.ref() + "  " + i.reasons().get(0));
                i.reasons().stream()
                        .skip(1)
                        .forEach(r -> out.accept(
                                "             " + " ".repeat(i.ref().toString().length()) + "  " + r));
            }
        }
        for (NodeImages.NodeImage n : plan.nodeImages()) {
            out.accept((dryRun ? "would delete " : "delete       ")
                    + "docker image "
                    + n.tag()
                    + "  ("
                    + n.ref()
                    + " is not in the store)");
        }
        for (LayerCache.Layer l : plan.layers()) {
            out.accept((dryRun ? "would delete " : "delete       ")
                    + "package layer "
                    + l.file().getFileName()
                    + "  ("
                    + bytes(l.bytes())
                    + ", last used "
                    + l.lastUsed()
                    + ": over --cache-max)");
        }
    }

    /** What a prune did. */
    public record Result(List<ImageRef> deleted, List<String> finished, List<String> failures) {}

    /**
     * Deletes what the plan says, in order: each version's AMIs then the version; then Docker
     * images and package layers. A failure of one version is reported and the rest go on.
     */
    public Result execute(Plan plan, Consumer<String> out) throws IOException {
        List<String> failures = new ArrayList<>();
        List<ImageRef> deleted = new ArrayList<>();
        for (Item i : plan.deleted()) {
            try {
                if (!i.amis().isEmpty()) {
                    amis.delete(i.ref(), store.recordsDir(i.ref()), line -> out.accept("  " + i.ref() + ": " + line));
                }
                store.delete(i.ref());
                deleted.add(i.ref());
                out.accept("deleted " + i.ref());
            } catch (IOException | RuntimeException e) {
                failures.add(i.ref() + ": " + e.getMessage());
                out.accept("FAILED  " + i.ref() + ": " + e.getMessage() + " (run kiln prune again to finish)");
            }
        }
        for (NodeImages.NodeImage n : plan.nodeImages()) {
            String why = NodeImages.remove(n);
            if (why == null) {
                out.accept("deleted docker image " + n.tag());
            } else {
                out.accept("kept docker image " + n.tag() + ": " + why);
            }
        }
        for (LayerCache.Layer l : plan.layers()) {
            Files.deleteIfExists(l.file());
            out.accept("deleted package layer " + l.file().getFileName());
        }
        return new Result(deleted, List.of(), failures);
    }

    /** Finishes what a killed prune left (invisible already); one line per version. */
    public List<String> finishInterrupted() throws IOException {
        return store.finishInterrupted();
    }

    static String bytes(long n) {
        if (n < 1 << 10) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format("%.1f %s", v, units[u]);
    }

    private static String human(Duration d) {
        long days = d.toDays();
        return days > 0 && d.equals(Duration.ofDays(days))
                ? days + "d"
                : d.toString().substring(2).toLowerCase();
    }
}
