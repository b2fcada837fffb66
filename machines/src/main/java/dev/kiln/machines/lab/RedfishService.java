package dev.kiln.machines.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.kiln.core.json.Json;
import dev.kiln.machines.bmc.Secret;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The lab's Redfish BMC: one HTTPS service on loopback for all lab machines, one ComputerSystem per
 * machine, power by process control of its QEMU (through {@link LabMachine}). It speaks what kiln's
 * redfish driver and Debian's redfishtool and python3-sushy use: the service root, SessionService
 * sessions (X-Auth-Token) and basic auth, the Systems collection, ComputerSystem with PowerState
 * and Boot (PATCH with If-Match against its ETag), and the ComputerSystem.Reset action with its
 * allowable values. A lab component, like QEMU's own BMC emulation; its certificate comes from
 * {@link LabCertificate}, whose CA file clients verify.
 */
public final class RedfishService implements AutoCloseable {
    static final List<String> RESET_TYPES = List.of("On", "ForceOff", "ForceRestart", "PowerCycle");
    private static final List<String> TARGETS = List.of("None", "Pxe", "Hdd");
    private static final String SYSTEMS = "/redfish/v1/Systems";
    private static final String SESSIONS = "/redfish/v1/SessionService/Sessions";

    private final HttpsServer server;
    private final String user;
    private final Secret password;
    private final Map<String, LabMachine> machines = new ConcurrentHashMap<>();

    /** token → session id */
    private final Map<String, String> sessions = new ConcurrentHashMap<>();

    private final Map<String, Integer> versions = new ConcurrentHashMap<>();

    private RedfishService(HttpsServer server, String user, Secret password) {
        this.server = server;
        this.user = user;
        this.password = password;
    }

    /** Starts on 127.0.0.1 (a free port) with the certificate in {@code cert}. */
    public static RedfishService start(LabCertificate cert, String user, Secret password) throws IOException {
        HttpsServer server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 32);
        server.setHttpsConfigurator(new HttpsConfigurator(cert.sslContext()));
        RedfishService s = new RedfishService(server, user, password);
        server.createContext("/", s::handle);
        server.setExecutor(PowerPanel.daemonPool("kiln-lab-redfish"));
        server.start();
        return s;
    }

    public void add(LabMachine m) {
        machines.put(m.name(), m);
    }

    /** https://127.0.0.1:PORT */
    public String url() {
        return "https://127.0.0.1:" + server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try {
            String path = ex.getRequestURI().getPath().replaceAll("/+$", "");
            String method = ex.getRequestMethod();
            if (path.equals("/redfish")) {
                send(ex, 200, Json.MAPPER.createObjectNode().put("v1", "/redfish/v1/"), null);
            } else if (path.equals("/redfish/v1")) {
                send(ex, 200, root(), null);
            } else if (path.equals(SESSIONS) && method.equals("POST")) {
                login(ex);
            } else if (!authorized(ex)) {
                error(ex, 401, "Base.1.8.NoValidSession", "no valid session or credentials");
            } else {
                route(ex, method, path);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            error(ex, 500, "Base.1.8.InternalError", "interrupted");
        } catch (IOException | RuntimeException e) {
            error(ex, 500, "Base.1.8.InternalError", String.valueOf(e.getMessage()));
        } finally {
            ex.close();
        }
    }

    private void route(HttpExchange ex, String method, String path) throws IOException, InterruptedException {
        if (path.equals("/redfish/v1/SessionService")) {
            ObjectNode s =
                    resource("/redfish/v1/SessionService", "#SessionService.v1_1_8.SessionService", "SessionService");
            s.put("ServiceEnabled", true).put("SessionTimeout", 600);
            s.putObject("Sessions").put("@odata.id", SESSIONS);
            send(ex, 200, s, null);
        } else if (path.equals(SESSIONS)) {
            ObjectNode c = resource(SESSIONS, "#SessionCollection.SessionCollection", "Sessions");
            ArrayNode members = c.putArray("Members");
            sessions.values().forEach(id -> members.addObject().put("@odata.id", SESSIONS + "/" + id));
            c.put("Members@odata.count", members.size());
            send(ex, 200, c, null);
        } else if (path.startsWith(SESSIONS + "/") && method.equals("DELETE")) {
            String id = path.substring(SESSIONS.length() + 1);
            sessions.values().removeIf(id::equals);
            noContent(ex);
        } else if (path.equals(SYSTEMS)) {
            ObjectNode c = resource(SYSTEMS, "#ComputerSystemCollection.ComputerSystemCollection", "Computer Systems");
            ArrayNode members = c.putArray("Members");
            machines.keySet().stream().sorted().forEach(n -> members.addObject().put("@odata.id", SYSTEMS + "/" + n));
            c.put("Members@odata.count", members.size());
            send(ex, 200, c, null);
        } else if (path.startsWith(SYSTEMS + "/")) {
            system(ex, method, path.substring(SYSTEMS.length() + 1));
        } else {
            error(ex, 404, "Base.1.8.ResourceMissingAtURI", "no resource at " + path);
        }
    }

    private void system(HttpExchange ex, String method, String rest) throws IOException, InterruptedException {
        String name = rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest;
        LabMachine m = machines.get(name);
        if (m == null) {
            error(ex, 404, "Base.1.8.ResourceMissingAtURI", "no system " + name);
            return;
        }
        if (rest.equals(name + "/Actions/ComputerSystem.Reset") && method.equals("POST")) {
            String type = body(ex).path("ResetType").asText("");
            if (!RESET_TYPES.contains(type)) {
                error(
                        ex,
                        400,
                        "Base.1.8.ActionParameterNotSupported",
                        "ResetType '" + type + "' is not one of " + RESET_TYPES);
                return;
            }
            switch (type) {
                case "On" -> m.powerOn();
                case "ForceOff" -> m.powerOff();
                default -> m.reset();
            }
            bump(name);
            noContent(ex);
        } else if (rest.equals(name) && method.equals("GET")) {
            ObjectNode s = systemJson(m);
            send(ex, 200, s, s.get("@odata.etag").asText());
        } else if (rest.equals(name) && method.equals("PATCH")) {
            String ifMatch = ex.getRequestHeaders().getFirst("If-Match");
            String etag = etag(m);
            if (ifMatch != null && !ifMatch.equals(etag) && !ifMatch.equals("*")) {
                error(
                        ex,
                        412,
                        "Base.1.8.PreconditionFailed",
                        "If-Match " + ifMatch + " is not the current ETag " + etag);
                return;
            }
            JsonNode boot = body(ex).path("Boot");
            String target = boot.path("BootSourceOverrideTarget").asText(null);
            String enabled = boot.path("BootSourceOverrideEnabled").asText(null);
            if (target != null && !TARGETS.contains(target)) {
                error(
                        ex,
                        400,
                        "Base.1.8.PropertyValueNotInList",
                        "BootSourceOverrideTarget '" + target + "' is not one of " + TARGETS);
                return;
            }
            LabMachine.BootOverride o = target == null
                    ? m.override()
                    : switch (target) {
                        case "Pxe" -> LabMachine.BootOverride.PXE;
                        case "Hdd" -> LabMachine.BootOverride.DISK;
                        default -> LabMachine.BootOverride.NONE;
                    };
            boolean once = enabled == null ? m.once() : !"Continuous".equals(enabled);
            if ("Disabled".equals(enabled)) {
                o = LabMachine.BootOverride.NONE;
            }
            m.setOverride(o, once);
            bump(name);
            noContent(ex);
        } else {
            error(ex, 405, "Base.1.8.OperationNotAllowed", method + " not allowed on " + SYSTEMS + "/" + rest);
        }
    }

    private ObjectNode systemJson(LabMachine m) throws IOException, InterruptedException {
        String path = SYSTEMS + "/" + m.name();
        ObjectNode s = resource(path, "#ComputerSystem.v1_13_0.ComputerSystem", m.name());
        s.put("Id", m.name())
                .put("SystemType", "Virtual")
                .put("Manufacturer", "kiln lab")
                .put("Model", "QEMU")
                .put("PowerState", m.isOn() ? "On" : "Off");
        s.putObject("Status").put("State", "Enabled").put("Health", "OK");
        ObjectNode boot = s.putObject("Boot");
        boot.put(
                "BootSourceOverrideTarget",
                switch (m.override()) {
                    case PXE -> "Pxe";
                    case DISK -> "Hdd";
                    case NONE -> "None";
                });
        boot.put(
                "BootSourceOverrideEnabled",
                m.override() == LabMachine.BootOverride.NONE ? "Disabled" : m.once() ? "Once" : "Continuous");
        boot.put("BootSourceOverrideMode", "Legacy");
        ArrayNode targets = boot.putArray("BootSourceOverrideTarget@Redfish.AllowableValues");
        TARGETS.forEach(targets::add);
        ObjectNode reset = s.putObject("Actions").putObject("#ComputerSystem.Reset");
        reset.put("target", path + "/Actions/ComputerSystem.Reset");
        ArrayNode types = reset.putArray("ResetType@Redfish.AllowableValues");
        RESET_TYPES.forEach(types::add);
        s.put("@odata.etag", etag(m));
        return s;
    }

    /** Changes with every change of power or boot override, as a real BMC's would. */
    private String etag(LabMachine m) throws IOException, InterruptedException {
        String state = versions.getOrDefault(m.name(), 0) + "/" + m.isOn() + "/" + m.override() + "/" + m.once();
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(state.getBytes(StandardCharsets.UTF_8));
            return "W/\"" + HexFormat.of().formatHex(d, 0, 8) + "\"";
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void bump(String name) {
        versions.merge(name, 1, Integer::sum);
    }

    private ObjectNode root() {
        ObjectNode r = resource("/redfish/v1", "#ServiceRoot.v1_5_0.ServiceRoot", "kiln lab Redfish service");
        r.put("Id", "RootService").put("RedfishVersion", "1.8.0").put("UUID", "6b696c6e-6c61-4200-8000-000000000001");
        r.putObject("Systems").put("@odata.id", SYSTEMS);
        r.putObject("SessionService").put("@odata.id", "/redfish/v1/SessionService");
        r.putObject("Links").putObject("Sessions").put("@odata.id", SESSIONS);
        return r;
    }

    private static ObjectNode resource(String id, String type, String name) {
        return Json.MAPPER
                .createObjectNode()
                .put("@odata.id", id)
                .put("@odata.type", type)
                .put("Name", name);
    }

    private void login(HttpExchange ex) throws IOException {
        JsonNode creds = body(ex);
        if (!matches(creds.path("UserName").asText(""), creds.path("Password").asText(""))) {
            error(ex, 401, "Base.1.8.InsufficientPrivilege", "wrong user name or password");
            return;
        }
        byte[] t = new byte[16];
        new SecureRandom().nextBytes(t);
        String token = HexFormat.of().formatHex(t);
        String id = HexFormat.of().formatHex(t, 0, 4);
        sessions.put(token, id);
        ex.getResponseHeaders().set("X-Auth-Token", token);
        ex.getResponseHeaders().set("Location", SESSIONS + "/" + id);
        send(
                ex,
                201,
                resource(SESSIONS + "/" + id, "#Session.v1_3_0.Session", "Session " + id)
                        .put("Id", id)
                        .put("UserName", user),
                null);
    }

    private boolean authorized(HttpExchange ex) {
        String token = ex.getRequestHeaders().getFirst("X-Auth-Token");
        if (token != null) {
            return sessions.containsKey(token);
        }
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth != null && auth.startsWith("Basic ")) {
            String decoded =
                    new String(Base64.getDecoder().decode(auth.substring(6).trim()), StandardCharsets.UTF_8);
            int colon = decoded.indexOf(':');
            return colon > 0 && matches(decoded.substring(0, colon), decoded.substring(colon + 1));
        }
        return false;
    }

    private boolean matches(String u, String p) {
        return MessageDigest.isEqual(
                (u + "\0" + p).getBytes(StandardCharsets.UTF_8),
                (user + "\0" + password.reveal()).getBytes(StandardCharsets.UTF_8));
    }

    private static JsonNode body(HttpExchange ex) throws IOException {
        try (InputStream in = ex.getRequestBody()) {
            byte[] b = in.readAllBytes();
            return b.length == 0 ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(b);
        }
    }

    private static void send(HttpExchange ex, int status, JsonNode body, String etag) throws IOException {
        byte[] b = Json.MAPPER.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.getResponseHeaders().set("OData-Version", "4.0");
        if (etag != null) {
            ex.getResponseHeaders().set("ETag", etag);
        }
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    private static void error(HttpExchange ex, int status, String id, String message) throws IOException {
        ObjectNode e = Json.MAPPER.createObjectNode();
        ObjectNode err = e.putObject("error").put("code", id).put("message", message);
        err.putArray("@Message.ExtendedInfo").addObject().put("MessageId", id).put("Message", message);
        send(ex, status, e, null);
    }

    @Override
    public void close() {
        server.stop(0);
    }

    /**
     * 204, and the connection is not reused: the JDK's server may drop a kept-alive connection
     * after a body-less response, and a client (sushy, through requests) that sends its next
     * request on it gets "Remote end closed connection without response".
     */
    private static void noContent(HttpExchange ex) throws IOException {
        ex.getResponseHeaders().set("Connection", "close");
        ex.sendResponseHeaders(204, -1);
    }
}
