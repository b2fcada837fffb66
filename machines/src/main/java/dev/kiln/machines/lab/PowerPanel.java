package dev.kiln.machines.lab;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;

/**
 * The lab's machines' power and boot device, on a loopback HTTP port with a random token: what
 * ipmi_sim's chassis_control program (a few lines of sh and curl, one per BMC) calls to start and
 * stop a machine's QEMU and to set its next boot device.
 *
 * <pre>
 * GET  /NAME/power          → 1 or 0
 * POST /NAME/power/1|0      power on / off
 * POST /NAME/reset          off and on
 * GET  /NAME/boot           → pxe, default or none
 * POST /NAME/boot/pxe|default|none
 * </pre>
 */
public final class PowerPanel implements AutoCloseable {
    private final HttpServer server;
    private final String token;
    private final Map<String, LabMachine> machines = new ConcurrentHashMap<>();

    private PowerPanel(HttpServer server, String token) {
        this.server = server;
        this.token = token;
    }

    public static PowerPanel start() throws IOException {
        byte[] t = new byte[16];
        new SecureRandom().nextBytes(t);
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        PowerPanel panel = new PowerPanel(server, HexFormat.of().formatHex(t));
        server.createContext("/", panel::handle);
        server.setExecutor(daemonPool("kiln-lab-power"));
        server.start();
        return panel;
    }

    /** A few daemon threads for a lab server: they never keep the JVM alive. */
    static java.util.concurrent.ExecutorService daemonPool(String name) {
        return Executors.newFixedThreadPool(4, r -> {
            Thread th = new Thread(r, name);
            th.setDaemon(true);
            return th;
        });
    }

    public void add(LabMachine m) {
        machines.put(m.name(), m);
    }

    /** http://127.0.0.1:PORT */
    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Sent as "Authorization: Bearer TOKEN"; kept in files only the lab's user reads. */
    public String token() {
        return token;
    }

    private void handle(HttpExchange ex) throws IOException {
        try {
            if (!("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                reply(ex, 403, "no or wrong token\n");
                return;
            }
            String[] parts = ex.getRequestURI().getPath().replaceAll("^/+", "").split("/");
            LabMachine m = parts.length >= 2 ? machines.get(parts[0]) : null;
            if (m == null) {
                reply(ex, 404, "no such machine\n");
                return;
            }
            boolean post = ex.getRequestMethod().equals("POST");
            String what = parts[1];
            String value = parts.length > 2 ? parts[2] : null;
            switch (what) {
                case "power" -> {
                    if (!post) {
                        reply(ex, 200, (m.isOn() ? "1" : "0") + "\n");
                        return;
                    }
                    if ("1".equals(value)) {
                        m.powerOn();
                    } else {
                        m.powerOff();
                    }
                }
                case "reset" -> m.reset();
                case "boot" -> {
                    if (!post) {
                        reply(
                                ex,
                                200,
                                switch (m.override()) {
                                            case PXE -> "pxe";
                                            case DISK -> "default";
                                            case NONE -> "none";
                                        }
                                        + "\n");
                        return;
                    }
                    m.setOverride(
                            "pxe".equals(value) ? LabMachine.BootOverride.PXE : LabMachine.BootOverride.NONE, true);
                }
                default -> {
                    reply(ex, 404, "unknown control " + what + "\n");
                    return;
                }
            }
            reply(ex, 200, "ok\n");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            reply(ex, 500, "interrupted\n");
        } catch (IOException | RuntimeException e) {
            reply(ex, 500, e.getMessage() + "\n");
        } finally {
            ex.close();
        }
    }

    private static void reply(HttpExchange ex, int status, String text) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
