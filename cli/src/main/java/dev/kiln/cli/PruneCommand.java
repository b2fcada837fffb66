package dev.kiln.cli;

import dev.kiln.aws.S3ImageSource;
import dev.kiln.aws.S3Location;
import dev.kiln.builder.build.PackageLayer;
import dev.kiln.core.store.ImageStore;
import dev.kiln.release.Identity;
import dev.kiln.release.Releases;
import dev.kiln.release.SsmChannels;
import dev.kiln.release.prune.Amis;
import dev.kiln.release.prune.FleetUse;
import dev.kiln.release.prune.LayerCache;
import dev.kiln.release.prune.LocalVersions;
import dev.kiln.release.prune.Policy;
import dev.kiln.release.prune.Pruner;
import dev.kiln.release.prune.Rollouts;
import dev.kiln.release.prune.S3Versions;
import dev.kiln.release.prune.ServerRollouts;
import dev.kiln.release.prune.VersionStore;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "prune",
        mixinStandardHelpOptions = true,
        description = {
            "Deletes old image versions: from the store (local or S3), their AMIs and",
            "snapshots in every region (--amis), kiln-node Docker images of versions no",
            "longer in the store, and package layers beyond --cache-max.",
            "Never deleted: what an environment points to, its rollback window (the version",
            "before its current one), what nodes are assigned, were booted with or run",
            "(kiln serve, --server; else what --inventory files assign), what a rollout in",
            "progress references, what is pinned (kiln pin), an AMI an SSM parameter points",
            "to. --dry-run prints what would go and why each other version stays.",
            "A killed prune leaves no half-visible version; running it again finishes."
        },
        footer = {
            "",
            "Examples:",
            "  kiln prune --keep 3 --dry-run --server http://10.0.2.2:8080",
            "  kiln prune --keep 3 --older-than 30d --inventory inventory.yaml",
            "  kiln prune --keep 5 --store s3://kiln-images/team --amis --region eu-west-1",
            "  kiln prune --keep 100 --cache-max 20G"
        })
final class PruneCommand implements Callable<Integer> {
    @Option(
            names = "--keep",
            paramLabel = "N",
            description = "Keep the newest N versions of each image (by build time).")
    Integer keep;

    @Option(
            names = "--older-than",
            paramLabel = "DURATION",
            description =
                    "Only delete versions built longer ago than this (30d, 12h, 2w, P30D). With --keep, both must hold.")
    String olderThan;

    @Option(
            names = "--dry-run",
            description = "Print what would be deleted and why everything else is kept; delete nothing.")
    boolean dryRun;

    @Mixin
    ImageSourceOptions images;

    @Option(
            names = "--amis",
            description = "Also deregister the versions' AMIs and delete their snapshots in every region"
                    + " published.json lists. Without it, versions that have AMIs are kept.")
    boolean amis;

    @Option(
            names = "--server",
            paramLabel = "URL",
            description = "kiln serve to ask what nodes are assigned and run (its /nodes; needs the operator token).")
    String server;

    @Option(
            names = "--token",
            paramLabel = "TOKEN",
            description =
                    "Operator token of --server (default: $KILN_TOKEN, else, for a server on this machine, STATE/operator-token).")
    String token;

    @Option(names = "--state", paramLabel = "DIR", description = "kiln serve's state directory to read the token from.")
    Path state;

    @Option(
            names = "--inventory",
            paramLabel = "FILE",
            description = "Without --server: keep the versions these inventories assign (repeatable).")
    List<Path> inventories = new ArrayList<>();

    @Option(
            names = "--cache-max",
            paramLabel = "SIZE",
            description = "Bound the package-layer cache (20G, 500M): least recently used layers go first.")
    String cacheMax;

    @Option(
            names = "--layer-cache",
            paramLabel = "DIR",
            description = "The build cache (default: $KILN_CACHE or ~/.cache/kiln).")
    Path layerCache;

    @Option(names = "--no-docker", description = "Leave kiln-node Docker images alone.")
    boolean noDocker;

    @Override
    public Integer call() throws Exception {
        Policy policy = new Policy(keep, olderThan == null ? null : Policy.parseDuration(olderThan));
        Long maxCache = cacheMax == null ? null : LayerCache.parseSize(cacheMax);
        if (server != null && !inventories.isEmpty()) {
            throw new IllegalArgumentException(
                    "--inventory is the fallback without --server: kiln serve already knows its inventory");
        }
        FleetUse fleet = server != null ? FleetUse.fromServer(server, token()) : FleetUse.fromInventories(inventories);
        Rollouts rollouts = server != null ? new ServerRollouts(server, token()) : Rollouts.NONE;
        boolean s3 = images.store != null && images.store.startsWith("s3://");
        VersionStore store;
        if (s3) {
            S3Location location = S3Location.parse(images.store);
            store = new S3Versions(
                    location,
                    images.aws.settings(),
                    images.cache != null ? images.cache : S3ImageSource.defaultCache(location));
        } else {
            store = new LocalVersions(
                    new ImageStore(images.store != null ? Path.of(images.store) : ImageStore.defaultRoot()));
        }
        try (Releases releases = new Releases(
                        ReleaseOptions.store(images),
                        Clock.systemUTC(),
                        Identity.current(),
                        new SsmChannels(images.aws.settings()));
                Amis aws = amis ? new Amis(images.aws.settings()) : null) {
            Pruner pruner = new Pruner(store, releases, fleet, rollouts, aws, Clock.systemUTC());
            if (!dryRun) {
                for (String v : pruner.finishInterrupted()) {
                    System.out.println("finished deleting " + v + " (an interrupted prune had hidden it)");
                }
            }
            Pruner.Plan plan = pruner.plan(
                    policy, !noDocker, layerCache != null ? layerCache : PackageLayer.defaultCacheDir(), maxCache);
            System.out.println((dryRun ? "dry run: " : "")
                    + store.describe()
                    + ": "
                    + plan.items().size()
                    + " versions, "
                    + plan.deleted().size()
                    + " to delete, "
                    + plan.kept().size()
                    + " kept");
            Pruner.print(plan, dryRun, System.out::println);
            if (dryRun) {
                return 0;
            }
            Pruner.Result r = pruner.execute(plan, System.out::println);
            return r.failures().isEmpty() ? 0 : 1;
        } finally {
            if (store instanceof S3Versions s) {
                s.close();
            }
        }
    }

    /** As kiln nodes finds it: --token, $KILN_TOKEN, or the local server's state directory. */
    private String token() {
        String credential = token != null ? token : System.getenv("KILN_TOKEN");
        String host = URI.create(server).getHost();
        boolean local = host != null && (host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]"));
        if ((credential == null || credential.isBlank()) && (local || state != null)) {
            credential =
                    dev.kiln.fleet.OperatorAuth.readToken(state != null ? state : dev.kiln.fleet.StateDir.defaultDir());
        }
        return credential;
    }
}
