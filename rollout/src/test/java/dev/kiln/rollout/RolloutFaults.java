package dev.kiln.rollout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * bench/rollout.sh faults: N seeded simulations of the rollout engine under faults (see {@link
 * RolloutSimulation}), two at a time on this machine's cores; prints scenarios per second, faults
 * injected by kind and invariants checked, and each failing seed with the line that replays it.
 */
public final class RolloutFaults {
    private RolloutFaults() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("--seed")) {
            replay(Long.parseLong(args[1]));
            return;
        }
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
        long first = args.length > 1 ? Long.parseLong(args[1]) : System.nanoTime() % 1_000_000_000L;
        int cores = Runtime.getRuntime().availableProcessors();
        Path tmp = Files.createTempDirectory(Path.of(shm()), "kiln-sim-");
        Map<String, Integer> faults = new TreeMap<>();
        Map<String, Integer> checks = new TreeMap<>();
        List<RolloutSimulation.Result> failed = new ArrayList<>();
        AtomicInteger finished = new AtomicInteger();
        System.out.printf("%d scenarios from seed %d, %d at a time%n", n, first, cores);
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(cores);
        try {
            List<Future<RolloutSimulation.Result>> all = new ArrayList<>();
            for (long seed = first; seed < first + n; seed++) {
                long s = seed;
                all.add(pool.submit(() -> {
                    RolloutSimulation.Result r = RolloutSimulation.run(s, tmp);
                    int done = finished.incrementAndGet();
                    if (done % Math.max(1, n / 10) == 0) {
                        System.out.printf("  %d/%d after %.1f s%n", done, n, (System.nanoTime() - t0) / 1e9);
                    }
                    return r;
                }));
            }
            for (Future<RolloutSimulation.Result> f : all) {
                RolloutSimulation.Result r = f.get();
                r.faults().forEach((k, v) -> faults.merge(k, v, Integer::sum));
                r.checks().forEach((k, v) -> checks.merge(k, v, Integer::sum));
                if (!r.ok()) {
                    failed.add(r);
                }
            }
        } finally {
            pool.shutdownNow();
            RolloutSimulation.deleteTree(tmp);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("%d scenarios in %.1f s: %.1f scenarios/s%n", n, secs, n / secs);
        System.out.println("faults injected, by kind:");
        faults.forEach((k, v) -> System.out.printf("  %8d  %s%n", v, k));
        System.out.println("invariants checked:");
        checks.forEach((k, v) -> System.out.printf("  %8d  %s%n", v, k));
        System.out.printf("%d scenario(s) broke an invariant%n", failed.size());
        for (RolloutSimulation.Result r : failed) {
            System.out.println("  seed " + r.seed() + " (" + r.fleet() + "): " + r.violation());
            System.out.println("    replay: " + r.replay());
        }
        System.exit(failed.isEmpty() ? 0 : 1);
    }

    private static void replay(long seed) throws Exception {
        Path tmp = Files.createTempDirectory(Path.of(shm()), "kiln-sim-");
        RolloutSimulation.Result r;
        try {
            r = RolloutSimulation.run(seed, tmp);
        } finally {
            RolloutSimulation.deleteTree(tmp);
        }
        System.out.println("seed " + seed + ": " + r.fleet());
        r.story().forEach(line -> System.out.println("  " + line));
        System.out.println("faults: " + r.faults());
        System.out.println(r.ok() ? "every invariant held" : "BROKE " + r.violation());
        System.exit(r.ok() ? 0 : 1);
    }

    /** Journals are fsynced per line: on tmpfs that costs nothing, as the simulation wants. */
    private static String shm() {
        return Files.isDirectory(Path.of("/dev/shm")) ? "/dev/shm" : System.getProperty("java.io.tmpdir");
    }
}
