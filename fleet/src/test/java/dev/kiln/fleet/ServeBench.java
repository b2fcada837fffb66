package dev.kiln.fleet;

import dev.kiln.core.store.ImageStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load generator for bench/serve.sh (not a test). "prepare DIR NODES ROOTFS_MIB" writes a store and
 * an inventory; "load URL NODES DOWNLOADS" drives a running kiln serve: every node fetches its boot
 * script (for its token), then NODES concurrent metadata fetches, NODES concurrent status reports,
 * and DOWNLOADS concurrent full downloads of rootfs.squashfs. Loopback only.
 */
public final class ServeBench {
    private static final Pattern TOKEN = Pattern.compile("kiln\\.token=([0-9a-f]{64})");

    private ServeBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 4 && args[0].equals("prepare")) {
            prepare(Path.of(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
        } else if (args.length == 4 && args[0].equals("load")) {
            load(args[1], Integer.parseInt(args[2]), Integer.parseInt(args[3]));
        } else {
            System.err.println("usage: ServeBench prepare DIR NODES ROOTFS_MIB | load URL NODES DOWNLOADS");
            System.exit(2);
        }
    }

    static String mac(int i) {
        return String.format("52:54:00:%02x:%02x:%02x", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
    }

    static void prepare(Path dir, int nodes, int rootfsMib) throws Exception {
        ImageStore store = new ImageStore(dir.resolve("store"));
        TestStore.pxeVersion(store, "bench-node", "1.0.0", rootfsMib * 1024 * 1024);
        StringBuilder inv = new StringBuilder("clusters:\n  - name: bench\n    image: bench-node:1.0.0\n    nodes:\n");
        for (int i = 1; i <= nodes; i++) {
            inv.append(String.format(
                    "      - {mac: \"%s\", name: n%d, role: %s, address: 10.%d.%d.%d}%n",
                    mac(i), i, i <= 3 ? "master" : "worker", 10 + (i >> 16), (i >> 8) & 0xff, i & 0xff));
        }
        Files.writeString(dir.resolve("inventory.yaml"), inv);
    }

    static void load(String base, int nodes, int downloads) throws Exception {
        HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .build();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(nodes, downloads));
        try {
            String[] tokens = new String[nodes + 1];
            round(pool, "boot script (GET /ipxe)", nodes, i -> {
                HttpResponse<String> r =
                        http.send(get(base + "/ipxe?mac=" + mac(i)).build(), HttpResponse.BodyHandlers.ofString());
                Matcher m = TOKEN.matcher(r.body());
                if (r.statusCode() != 200 || !m.find()) {
                    return false;
                }
                tokens[i] = m.group(1);
                return true;
            });
            for (int pass = 1; pass <= 2; pass++) {
                String label = pass == 1 ? " (first)" : " (again)";
                round(pool, "metadata (GET /metadata)" + label, nodes, i -> {
                    HttpResponse<String> r = http.send(
                            get(base + "/metadata")
                                    .header("Authorization", "Bearer " + tokens[i])
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
                    return r.statusCode() == 200 && r.body().contains("\"name\":\"n" + i + "\"");
                });
                round(pool, "status (POST /status)" + label, nodes, i -> {
                    String body =
                            "{\"step\":\"ready\",\"detail\":\"bench\",\"image\":{\"name\":\"bench-node\",\"version\":\"1.0.0\"},"
                                    + "\"kernel\":\"6.1.0-bench\"}";
                    HttpResponse<String> r = http.send(
                            HttpRequest.newBuilder(URI.create(base + "/status"))
                                    .timeout(Duration.ofSeconds(30))
                                    .header("Authorization", "Bearer " + tokens[i])
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(body))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString());
                    return r.statusCode() == 204;
                });
            }
            downloads(pool, http, base + "/images/bench-node/1.0.0/pxe/rootfs.squashfs", downloads);
        } finally {
            pool.shutdownNow();
        }
    }

    static HttpRequest.Builder get(String url) {
        return HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30));
    }

    interface Request {
        boolean send(int node) throws Exception;
    }

    /**
     * Fires n requests at once (all threads released together) and prints count, errors and
     * latency.
     */
    static void round(ExecutorService pool, String what, int n, Request request) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Long>> results = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            int node = i;
            results.add(pool.submit((Callable<Long>) () -> {
                go.await();
                long t0 = System.nanoTime();
                try {
                    return request.send(node) ? System.nanoTime() - t0 : -1L;
                } catch (Exception e) {
                    return -1L;
                }
            }));
        }
        long start = System.nanoTime();
        go.countDown();
        List<Long> ok = new ArrayList<>();
        int errors = 0;
        for (Future<Long> f : results) {
            long t = f.get();
            if (t < 0) {
                errors++;
            } else {
                ok.add(t);
            }
        }
        double wall = (System.nanoTime() - start) / 1e9;
        Collections.sort(ok);
        System.out.printf(
                Locale.ROOT,
                "%-36s %4d requests, %3d errors, p50 %6.1f ms, p99 %6.1f ms, max %6.1f ms, all done in %.2f s%n",
                what,
                n,
                errors,
                pct(ok, 50),
                pct(ok, 99),
                ok.isEmpty() ? 0 : ok.get(ok.size() - 1) / 1e6,
                wall);
    }

    static double pct(List<Long> sorted, int p) {
        if (sorted.isEmpty()) {
            return 0;
        }
        int idx = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, idx)) / 1e6;
    }

    static void downloads(ExecutorService pool, HttpClient http, String url, int n) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Long>> results = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            results.add(pool.submit((Callable<Long>) () -> {
                go.await();
                // Count the bytes where the client receives them; copying
                // them into an InputStream
                // would make the client, not the server, the bottleneck.
                java.util.concurrent.atomic.AtomicLong got = new java.util.concurrent.atomic.AtomicLong();
                HttpResponse<Void> r = http.send(
                        HttpRequest.newBuilder(URI.create(url))
                                .timeout(Duration.ofMinutes(10))
                                .build(),
                        HttpResponse.BodyHandlers.fromSubscriber(
                                new Flow.Subscriber<List<ByteBuffer>>() {
                                    @Override
                                    public void onSubscribe(Flow.Subscription s) {
                                        s.request(Long.MAX_VALUE);
                                    }

                                    @Override
                                    public void onNext(List<ByteBuffer> buffers) {
                                        buffers.forEach(b -> got.addAndGet(b.remaining()));
                                    }

                                    @Override
                                    public void onError(Throwable t) {
                                        got.set(-1);
                                    }

                                    @Override
                                    public void onComplete() {}
                                },
                                s -> null));
                long expected = r.headers().firstValueAsLong("Content-Length").orElse(-1);
                return r.statusCode() == 200 && got.get() == expected ? got.get() : -1L;
            }));
        }
        long start = System.nanoTime();
        go.countDown();
        long bytes = 0;
        int errors = 0;
        for (Future<Long> f : results) {
            long b = f.get();
            if (b < 0) {
                errors++;
            } else {
                bytes += b;
            }
        }
        double wall = (System.nanoTime() - start) / 1e9;
        System.out.printf(
                Locale.ROOT,
                "%-36s %4d downloads, %3d errors, %.0f MiB in %.2f s = %.0f MiB/s aggregate (%.0f MiB/s each)%n",
                "rootfs.squashfs (GET /images/...)",
                n,
                errors,
                bytes / 1048576.0,
                wall,
                bytes / 1048576.0 / wall,
                bytes / 1048576.0 / wall / Math.max(1, n - errors));
    }
}
