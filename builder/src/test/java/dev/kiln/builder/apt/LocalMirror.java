package dev.kiln.builder.apt;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A Debian-layout apt repository on loopback (dists/SUITE/InRelease and
 * dists/SUITE/COMPONENT/binary-amd64/Packages under a path per archive), served over real HTTP so
 * tests read it through kiln's own index reader. Everything else is a 404, as on a mirror that has
 * no Packages.xz.
 */
public final class LocalMirror implements AutoCloseable {
    private final HttpServer server;
    private final Map<String, byte[]> files = new ConcurrentHashMap<>();

    public LocalMirror() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            byte[] body = files.get(exchange.getRequestURI().getPath());
            try (OutputStream out = exchange.getResponseBody()) {
                if (body == null) {
                    exchange.sendResponseHeaders(404, -1);
                } else {
                    exchange.sendResponseHeaders(200, body.length);
                    out.write(body);
                }
            }
        });
        server.start();
    }

    /** http://127.0.0.1:PORT/ARCHIVE, e.g. ARCHIVE "debian". */
    public String url(String archive) {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/" + archive;
    }

    /**
     * Publishes a suite: its Release fields (Suite is added) and the main component's Packages
     * stanzas.
     */
    public LocalMirror suite(String archive, String suite, String releaseFields, String... stanzas) {
        String dists = "/" + archive + "/dists/" + suite + "/";
        files.put(
                dists + "InRelease",
                ("Origin: Debian\nSuite: " + suite + "\n" + releaseFields).getBytes(StandardCharsets.UTF_8));
        files.put(
                dists + "main/binary-amd64/Packages", String.join("\n", stanzas).getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** One Packages stanza. */
    public static String pkg(String name, String version, String depends) {
        return "Package: "
                + name
                + "\nVersion: "
                + version
                + "\nArchitecture: amd64\n"
                + (depends == null ? "" : "Depends: " + depends + "\n")
                + "Description: test package\n continuation line: not a field\n";
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
