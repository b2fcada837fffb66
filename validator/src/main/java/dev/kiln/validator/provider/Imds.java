package dev.kiln.validator.provider;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Just enough of EC2's instance metadata service, IMDSv2, for a node to read its user data: PUT
 * /latest/api/token (with X-aws-ec2-metadata-token-ttl-seconds), then GET /latest/user-data with
 * that token in X-aws-ec2-metadata-token; 401 without a valid one, 404 for anything else. Which
 * node asks is told by its source address, as EC2 tells instances apart by their network interface;
 * a token works only for the address it was issued to.
 */
final class Imds implements AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();

    private final HttpServer server;
    private final Map<String, byte[]> userData;
    private final Consumer<String> log;

    /** Token → who got it and until when (System.nanoTime()). */
    private final Map<String, Grant> tokens = new ConcurrentHashMap<>();

    private record Grant(String address, long expiresAt) {}

    private Imds(HttpServer server, Map<String, byte[]> userData, Consumer<String> log) {
        this.server = server;
        this.userData = Map.copyOf(userData);
        this.log = log;
    }

    /**
     * Listens on {@code host} at a free port.
     *
     * @param userData node address → its user data
     * @param log one line per user data served
     */
    static Imds start(String host, Map<String, byte[]> userData, Consumer<String> log) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(host, 0), 16);
        Imds imds = new Imds(server, userData, log);
        server.createContext("/", imds::handle);
        server.start();
        return imds;
    }

    int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String from = ex.getRemoteAddress().getAddress().getHostAddress();
            String path = ex.getRequestURI().getPath();
            String method = ex.getRequestMethod();
            if (path.equals("/latest/api/token") && method.equals("PUT")) {
                issueToken(ex, from);
            } else if (path.equals("/latest/user-data") && method.equals("GET")) {
                Grant g = tokens.get(String.valueOf(ex.getRequestHeaders().getFirst("X-aws-ec2-metadata-token")));
                byte[] data = userData.get(from);
                if (g == null || !g.address().equals(from) || System.nanoTime() - g.expiresAt() > 0) {
                    send(ex, 401, "Unauthorized");
                } else if (data == null) {
                    send(ex, 404, "Not Found");
                } else {
                    log.accept("IMDS: user data to " + from);
                    send(ex, 200, data, "application/octet-stream");
                }
            } else {
                send(ex, 404, "Not Found");
            }
        }
    }

    private void issueToken(HttpExchange ex, String from) throws IOException {
        int ttl;
        try {
            ttl = Integer.parseInt(
                    String.valueOf(ex.getRequestHeaders().getFirst("X-aws-ec2-metadata-token-ttl-seconds")));
        } catch (NumberFormatException e) {
            ttl = 0;
        }
        if (ttl < 1 || ttl > 21600) {
            send(ex, 400, "Bad Request");
            return;
        }
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        tokens.put(token, new Grant(from, System.nanoTime() + TimeUnit.SECONDS.toNanos(ttl)));
        ex.getResponseHeaders().add("X-aws-ec2-metadata-token-ttl-seconds", Integer.toString(ttl));
        send(ex, 200, token);
    }

    private static void send(HttpExchange ex, int status, String text) throws IOException {
        send(ex, status, text.getBytes(StandardCharsets.UTF_8), "text/plain");
    }

    private static void send(HttpExchange ex, int status, byte[] body, String type) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
