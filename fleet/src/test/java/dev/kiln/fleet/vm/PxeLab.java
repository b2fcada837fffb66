package dev.kiln.fleet.vm;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.fleet.KilnServer;
import dev.kiln.machines.qemu.QemuMachine;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.regex.Pattern;

/**
 * What the PXE boot tests share: one diskless node m1 (MAC {@link #MAC}, 10.0.2.15 in QEMU user
 * networking, where the host's loopback is 10.0.2.2) in cluster "lab", and waiting for its reports
 * in kiln serve's /nodes.
 */
public final class PxeLab {
    public static final String MAC = "52:54:00:12:34:01";
    public static final String M1 = "  - {mac: \"" + MAC + "\", name: m1, role: master, address: 10.0.2.15}\n";
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private PxeLab() {}

    /** A free loopback port, so the server's public URL can be known before it starts. */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** The URL the guest reaches the host's loopback port at. */
    public static String publicUrl(int port) {
        return "http://10.0.2.2:" + port;
    }

    /**
     * An inventory with cluster "lab" on {@code imageRef}; {@code clusterBody} holds its other keys
     * and nodes.
     */
    public static Path inventory(Path dir, String imageRef, String clusterBody) throws IOException {
        Path file = dir.resolve("inventory.yaml");
        String indented = ("    " + clusterBody.replace("\n", "\n    ")).stripTrailing() + "\n";
        Files.writeString(file, "clusters:\n  - name: lab\n    image: " + imageRef + "\n" + indented);
        return file;
    }

    /** Polls /nodes until m1's step matches; fails with its last row and the console's end. */
    public static JsonNode awaitStep(KilnServer server, QemuMachine vm, Pattern step, Duration timeout)
            throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode row = null;
        while (System.nanoTime() < deadline) {
            row = nodeRow(server);
            if (row != null && step.matcher(row.path("step").asText()).matches()) {
                return row;
            }
            Thread.sleep(1000);
        }
        throw new AssertionError("m1 did not reach /"
                + step
                + "/ in "
                + timeout.toMinutes()
                + " min; last /nodes row: "
                + row
                + "\nconsole:\n"
                + tail(vm.consoleText()));
    }

    private static JsonNode nodeRow(KilnServer server) throws Exception {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/nodes"))
                        .header("Authorization", "Bearer " + server.operatorToken())
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        for (JsonNode n : Json.MAPPER.readTree(r.body())) {
            if (n.path("mac").asText().equalsIgnoreCase(MAC)) {
                return n;
            }
        }
        return null;
    }

    public static String tail(String text) {
        String[] lines = text.split("\r?\n");
        return String.join("\n", Arrays.copyOfRange(lines, Math.max(0, lines.length - 40), lines.length));
    }
}
