package dev.kiln.rollout.etcd;

import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.core.util.Files2;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real etcd cluster (Debian's etcd-server, /usr/bin/etcd) of members m1..mN on 127.0.0.1, each
 * with its own ports and data directory under one temp directory. close() kills every process and
 * removes the directory; a shutdown hook does the same if the JVM is stopped first (Ctrl-C).
 */
final class EtcdTestCluster implements AutoCloseable {
    static final Path ETCD = Path.of("/usr/bin/etcd");

    private final Path dir;
    private final Map<String, Process> processes = new LinkedHashMap<>();
    private final Map<String, URI> clientUrls = new LinkedHashMap<>();
    private final Map<String, URI> peerUrls = new LinkedHashMap<>();
    private final Thread hook = new Thread(this::killAll, "etcd-test-cluster-cleanup");

    private EtcdTestCluster(Path dir) {
        this.dir = dir;
    }

    /** Fails (or skips, under -Dkiln.fast) when etcd is not installed. */
    static void requireEtcd() {
        if (!Files.isExecutable(ETCD)) {
            String why = "etcd is not installed (Debian package etcd-server; ci/install-deps.sh installs it)";
            if (Boolean.parseBoolean(System.getProperty("kiln.requireTools", "true"))) {
                fail(why);
            }
            Assumptions.abort(why);
        }
    }

    static EtcdTestCluster start(int size) throws IOException, InterruptedException {
        requireEtcd();
        EtcdTestCluster c = new EtcdTestCluster(Files.createTempDirectory("kiln-etcd-"));
        Runtime.getRuntime().addShutdownHook(c.hook);
        try {
            List<Integer> ports = freePorts(2 * size);
            StringBuilder initial = new StringBuilder();
            for (int i = 1; i <= size; i++) {
                String name = "m" + i;
                c.clientUrls.put(name, URI.create("http://127.0.0.1:" + ports.get(2 * i - 2)));
                c.peerUrls.put(name, URI.create("http://127.0.0.1:" + ports.get(2 * i - 1)));
                initial.append(initial.isEmpty() ? "" : ",")
                        .append(name)
                        .append('=')
                        .append(c.peerUrls.get(name));
            }
            String token = "kiln-test-" + c.dir.getFileName();
            for (String name : c.clientUrls.keySet()) {
                c.launch(name, initial.toString(), token);
            }
            c.awaitHealthy(Duration.ofSeconds(20));
            return c;
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    private void launch(String name, String initialCluster, String token) throws IOException {
        String client = clientUrls.get(name).toString();
        String peer = peerUrls.get(name).toString();
        // Short heartbeat and election timeout: a loopback cluster elects its leader in well under a second.
        ProcessBuilder pb = new ProcessBuilder(
                        ETCD.toString(),
                        "--name=" + name,
                        "--data-dir=" + dir.resolve(name + ".etcd"),
                        "--listen-client-urls=" + client,
                        "--advertise-client-urls=" + client,
                        "--listen-peer-urls=" + peer,
                        "--initial-advertise-peer-urls=" + peer,
                        "--initial-cluster=" + initialCluster,
                        "--initial-cluster-token=" + token,
                        "--initial-cluster-state=new",
                        "--heartbeat-interval=50",
                        "--election-timeout=500")
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile());
        processes.put(name, pb.start());
    }

    private void awaitHealthy(Duration limit) throws IOException, InterruptedException {
        EtcdGateway g = gateway();
        long deadline = System.nanoTime() + limit.toNanos();
        EtcdGateway.Health h = g.health();
        while (!h.ok() || h.members().size() != processes.size()) {
            for (Map.Entry<String, Process> p : processes.entrySet()) {
                if (!p.getValue().isAlive()) {
                    throw new IOException("etcd " + p.getKey() + " exited: " + log(p.getKey()));
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IOException(
                        "etcd test cluster not healthy after " + limit + ": " + h.problems() + "\n" + log("m1"));
            }
            Thread.sleep(100);
            h = g.health();
        }
    }

    EtcdGateway gateway() {
        return new EtcdGateway(new ArrayList<>(clientUrls.values()), Duration.ofSeconds(2));
    }

    URI clientUrl(String name) {
        return clientUrls.get(name);
    }

    URI peerUrl(String name) {
        return peerUrls.get(name);
    }

    /** Kills member {@code name} at once (SIGKILL), as a crashed node would go. */
    void kill(String name) throws InterruptedException {
        Process p = processes.get(name);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    String log(String name) {
        try {
            List<String> lines = Files.readAllLines(dir.resolve(name + ".log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    private void killAll() {
        for (Process p : processes.values()) {
            p.destroyForcibly();
        }
        for (Process p : processes.values()) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() throws IOException {
        killAll();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down: the hook is running
        }
        Files2.deleteRecursively(dir);
    }

    private static List<Integer> freePorts(int n) throws IOException {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            List<Integer> ports = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                sockets.add(s);
                ports.add(s.getLocalPort());
            }
            return ports;
        } finally {
            for (ServerSocket s : sockets) {
                s.close();
            }
        }
    }
}
