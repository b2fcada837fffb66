package dev.kiln.fleet;

import dev.kiln.fleet.pxe.FirmwareBinaries;
import dev.kiln.core.node.AgentStep;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ChannelResolver;
import dev.kiln.core.store.ImageSource;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ManifestSignatures;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kiln serve: the server side of bare-metal boot. Hands each machine the iPXE script of the image
 * its MAC is assigned in the inventory, serves image artifacts from the store, gives each node its
 * own metadata document, and records what nodes report back.
 *
 * <p>Who a node is comes only from its token (see {@link NodeTokens}), never from its source IP,
 * which anything on the boot network can spoof or share behind NAT. The boot script and image
 * artifacts are public: they hold nothing node-specific but the token in the script, which goes
 * only to the MAC it belongs to (a MAC is not a secret; the boot network has to be trusted as far
 * as DHCP and iPXE already trust it).
 */
public final class KilnServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(KilnServer.class);
    private static final int MAX_DETAIL = 4096;
    /** The pxe/ files a version needs to boot over the network. */
    private static final List<String> PXE_FILES = List.of("pxe/boot.ipxe", "pxe/vmlinuz", "pxe/initrd.img", "pxe/rootfs.squashfs");

    /**
     * @param host        address to bind, like 0.0.0.0
     * @param port        port to bind; 0 picks a free one (tests)
     * @param publicUrl   base URL nodes use to reach this server; null means http://HOST:PORT
     * @param pollMillis  how often the inventory file is checked for edits
     * @param images      where versions come from; the server serves files from its local store
     * @param adminListen HOST:PORT of a second listener for the operator endpoints, or null: then
     *                    they are on the main one and want the operator credential
     * @param trust       public keys of which one must have signed a version for nodes to get it;
     *                    empty: signatures are not required
     */
    public record Options(Path inventory, ImageSource images, String host, int port, String publicUrl, Path stateDir,
                          long pollMillis, String adminListen, List<ManifestSignatures.Key> trust) {
        public Options {
            if (pollMillis <= 0) {
                pollMillis = 1000;
            }
            trust = trust == null ? List.of() : List.copyOf(trust);
        }

        public Options(Path inventory, ImageSource images, String host, int port, String publicUrl, Path stateDir,
                       long pollMillis) {
            this(inventory, images, host, port, publicUrl, stateDir, pollMillis, null, List.of());
        }

        public Options(Path inventory, ImageSource images, String host, int port, String publicUrl, Path stateDir,
                       long pollMillis, String adminListen) {
            this(inventory, images, host, port, publicUrl, stateDir, pollMillis, adminListen, List.of());
        }

        /** Serving straight from a local store. */
        public Options(Path inventory, ImageStore store, String host, int port, String publicUrl, Path stateDir,
                       long pollMillis) {
            this(inventory, ImageSource.local(store), host, port, publicUrl, stateDir, pollMillis, null, List.of());
        }

        /** The same options, requiring a signature by one of these keys (kiln serve --trust). */
        public Options trusting(List<ManifestSignatures.Key> keys) {
            return new Options(inventory, images, host, port, publicUrl, stateDir, pollMillis, adminListen, keys);
        }

        /** These options with the operator endpoints on their own listener (--admin-listen). */
        public Options withAdminListen(String hostPort) {
            return new Options(inventory, images, host, port, publicUrl, stateDir, pollMillis, hostPort, trust);
        }

        /** The local store artifacts are served from. */
        public ImageStore store() {
            return images.store();
        }
    }

    private final Options options;
    private final StatusBook status;
    private final NodeTokens tokens;
    private final ClusterSecrets secrets;
    private final InventoryWatcher inventory;
    private final ImageFiles images;
    private final SignatureGate signatures;
    private final Javalin app;
    private final String publicUrl;
    private volatile TokenIndex tokenIndex;
    private final OperatorAuth operators;
    private final ServedVersions served;
    private final BootTimes boots;
    private final FleetMetrics metrics;
    private volatile FleetFeeds feeds = FleetFeeds.NONE;
    /** The Jetty connector name of the --admin-listen listener. */
    private static final String ADMIN = "admin";

    /** Token digest → MAC for one inventory; rebuilt when the inventory changes. */
    private record TokenIndex(Inventory inventory, Map<String, String> macByDigest) { }

    private KilnServer(Options options, StatusBook status, NodeTokens tokens, ClusterSecrets secrets,
                       InventoryWatcher inventory, OperatorAuth operators, ServedVersions served) {
        this.options = options;
        this.status = status;
        this.tokens = tokens;
        this.secrets = secrets;
        this.inventory = inventory;
        this.images = new ImageFiles(options.store());
        this.operators = operators;
        this.served = served;
        this.metrics = new FleetMetrics(this::fleet);
        this.boots = new BootTimes((mac, seconds) -> {
            Inventory.Member m = inventory.current().member(mac);
            metrics.bootToReady(m == null ? "unknown" : m.cluster().name(), seconds);
        });
        status.onChange(boots::report);
        ListenAddress admin = options.adminListen() == null ? null : ListenAddress.parse("--admin-listen", options.adminListen());
        this.signatures = options.trust().isEmpty() ? null : new SignatureGate(options.trust(), PXE_FILES);
        this.app = Javalin.create(cfg -> {
            cfg.showJavalinBanner = false;
            cfg.startupWatcherEnabled = false;
            // Artifacts are compressed already, scripts and metadata are tiny; compressing would
            // also break Content-Length and ranges.
            cfg.http.disableCompression();
            cfg.jetty.modifyServer(server -> server.setRequestLog(metrics));
            // The main listener first: Javalin's port() is the first connector's.
            cfg.jetty.addConnector((server, http) -> connector(server, http, "main", options.host(), options.port()));
            if (admin != null) {
                cfg.jetty.addConnector((server, http) -> connector(server, http, ADMIN, admin.host(), admin.port()));
            }
        });
        routes();
        app.start();
        String url = options.publicUrl() != null ? options.publicUrl()
                : "http://" + NodeMetadata.urlHost(options.host()) + ":" + app.port();
        this.publicUrl = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /**
     * Loads the state (token secret, node status) and the inventory, then starts listening. An
     * invalid inventory fails here: there is no previous one to fall back on.
     */
    public static KilnServer start(Options options) throws IOException, InventoryException {
        return start(options, ChannelResolver.NONE);
    }

    /**
     * As {@link #start(Options)}, resolving NAME@ENV images of the inventory and refusing revoked
     * versions through {@code channels} (the cli plugs in the release module's records).
     */
    public static KilnServer start(Options options, ChannelResolver channels) throws IOException, InventoryException {
        if (options.publicUrl() != null) {
            checkPublicUrl(options.publicUrl());
        }
        StateDir state = StateDir.open(options.stateDir());
        NodeTokens tokens = NodeTokens.loadOrCreate(state);
        StatusBook status = StatusBook.open(state);
        InventoryWatcher inventory = null;
        try {
            inventory = InventoryWatcher.start(options.inventory(), options.images(), channels, options.pollMillis());
            // After the inventory: a start that fails on it does not make a token nobody was shown.
            OperatorAuth operators = OperatorAuth.loadOrCreate(state);
            ServedVersions served = ServedVersions.open(state);
            return new KilnServer(options, status, tokens, new ClusterSecrets(state), inventory, operators, served);
        } catch (IOException | InventoryException | RuntimeException e) {
            if (inventory != null) {
                inventory.close();
            }
            status.close();
            throw e;
        }
    }

    private static void checkPublicUrl(String url) {
        URI u;
        try {
            u = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--public-url: not a URL: " + url);
        }
        if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme())) || u.getHost() == null
                || u.getQuery() != null || u.getFragment() != null || !url.matches("[A-Za-z0-9:/.\\[\\]_~-]+")) {
            throw new IllegalArgumentException("--public-url: expected http://HOST[:PORT][/PATH] as nodes reach this server, got " + url);
        }
    }

    public int port() {
        return app.port();
    }

    /** The base URL written into boot scripts and metadata. */
    public String publicUrl() {
        return publicUrl;
    }

    public Inventory inventory() {
        return inventory.current();
    }

    /** The inventory watcher, so callers (and tests) can force a check instead of waiting. */
    public InventoryWatcher inventoryWatcher() {
        return inventory;
    }

    /** The token of a MAC, as the node gets it on its kernel command line. */
    public String token(String mac) {
        return tokens.token(mac);
    }

    private void routes() {
        app.get("/boot.ipxe", ctx -> ipxe(ctx, BootScripts.generic(publicUrl)));
        app.get("/ipxe", this::nodeScript);
        // iPXE itself, for UEFI HTTP Boot (a server's firmware fetches it over HTTP, not TFTP).
        app.get("/ipxe/{file}", this::firmwareBinary);
        app.get("/images/<path>", ctx -> images.handle(ctx, false));
        app.head("/images/<path>", ctx -> images.handle(ctx, true));
        app.get("/metadata", this::metadata);
        app.post("/status", this::report);
        app.post("/checks", this::checks);
        app.get("/peers", this::peers);
        // Operator endpoints: the fleet's whole picture, for people and Prometheus, not for nodes.
        app.get("/nodes", operator(this::nodes));
        app.get("/images", operator(this::imageList));
        app.get("/metrics", operator(ctx -> ctx.status(200).contentType(metrics.contentType()).result(metrics.scrape())));
        app.get("/ui", operator(ctx -> FleetUi.asset(ctx, "")));
        app.get("/ui/fleet.json", operator(ctx -> json(ctx, 200, fleet())));
        app.get("/ui/{file}", operator(ctx -> FleetUi.asset(ctx, ctx.pathParam("file"))));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("{} {} from {} failed", ctx.method(), ctx.path(), ctx.ip(), e);
            plain(ctx, 500, "internal error");
        });
    }

    private void firmwareBinary(Context ctx) throws IOException {
        String name = ctx.pathParam("file");
        java.util.Optional<Path> file = FirmwareBinaries.file(name);
        if (file.isEmpty()) {
            plain(ctx, 404, FirmwareBinaries.NAMES.contains(name)
                    ? name + " is not installed on this server (Debian package 'ipxe')"
                    : "no such iPXE binary; kiln serves " + String.join(", ", FirmwareBinaries.NAMES));
            return;
        }
        ctx.status(200).contentType("application/octet-stream").result(java.nio.file.Files.readAllBytes(file.get()));
    }

    private void nodeScript(Context ctx) throws IOException {
        String raw = ctx.queryParam("mac");
        String mac = MacAddress.normalize(raw);
        if (mac == null) {
            LOG.warn("ipxe: refused request from {}: '{}' is not a MAC address", ctx.ip(), BootScripts.safe(String.valueOf(raw)));
            metrics.refused("/ipxe", "bad-mac");
            plain(ctx, 400, "expected /ipxe?mac=52:54:00:12:34:56");
            return;
        }
        Inventory inv = inventory.current();
        Inventory.Member m = inv.member(mac);
        if (m == null) {
            LOG.warn("ipxe: refused {} (from {}): not in the inventory {}", mac, ctx.ip(), inv.file());
            metrics.refused("/ipxe", "unknown-mac");
            ipxe(ctx, BootScripts.refuse(publicUrl, mac, "MAC " + mac + " is not in the inventory " + inv.file()));
            return;
        }
        String who = m.name() + " of cluster " + m.cluster().name();
        String why = unbootable(inv, m.image());
        if (why != null) {
            LOG.warn("ipxe: refused {} ({}, from {}): {}", mac, who, ctx.ip(), why);
            metrics.refused("/ipxe", "unbootable");
            ipxe(ctx, BootScripts.refuse(publicUrl, mac, who + ": " + why));
            return;
        }
        LOG.info("ipxe: {} (from {}) is {} ({}), booting {}", mac, ctx.ip(), who, m.bootstrapRole(), m.image());
        served.record(mac, m.image().toString());
        status.record(mac, NodeStatus.IPXE, "boot script served for " + m.image(), null, null, null, ctx.ip());
        ipxe(ctx, BootScripts.boot(publicUrl, mac, m.name(), m.cluster().name(), m.image(), tokens.token(mac)));
    }

    /** Why a version cannot be booted over the network right now, or null if it can. */
    private String unbootable(Inventory inv, ImageRef ref) {
        String revoked = inv.channels().revoked(ref);
        if (revoked != null) {
            return "image " + ref + " was revoked (" + revoked + ")";
        }
        String unavailable = options.images().unavailable(ref);
        if (unavailable != null) {
            return unavailable;
        }
        Manifest manifest;
        try {
            manifest = options.store().manifest(ref);
        } catch (IOException e) {
            return "image " + ref + " is not in the store";
        }
        Map<String, Manifest.Artifact> artifacts = manifest.artifacts() == null ? Map.of() : manifest.artifacts();
        for (String f : PXE_FILES) {
            if (!artifacts.containsKey(f)) {
                return "image " + ref + " has no pxe output (no " + f + "; its spec's outputs must include pxe)";
            }
        }
        return signatures == null ? null : signatures.refusal(ref, options.store().dir(ref));
    }

    private void metadata(Context ctx) throws IOException {
        Inventory inv = inventory.current();
        Inventory.Member m = authenticate(ctx, inv);
        if (m == null) {
            return;
        }
        LOG.info("metadata: {} ({}) fetched its metadata from {}", m.name(), m.mac(), ctx.ip());
        json(ctx, 200, metadataOf(inv, m));
    }

    /**
     * The metadata document GET /metadata gives the node with this MAC (the token is not in it),
     * or null if the inventory has no such node: for handing it over some other way, such as EC2
     * user data.
     */
    public Map<String, String> metadataOf(String mac) throws IOException {
        Inventory inv = inventory.current();
        Inventory.Member m = inv.member(mac);
        return m == null ? null : metadataOf(inv, m);
    }

    private Map<String, String> metadataOf(Inventory inv, Inventory.Member m) throws IOException {
        Map<String, String> doc = new LinkedHashMap<>(NodeMetadata.of(inv, m, publicUrl));
        doc.putAll(secrets.forNode(m.cluster().name(), m.isMaster()));
        return doc;
    }

    private void report(Context ctx) throws IOException {
        Inventory inv = inventory.current();
        Inventory.Member m = authenticate(ctx, inv);
        if (m == null) {
            return;
        }
        JsonNode body = objectBody(ctx);
        if (body == null) {
            plain(ctx, 400, "expected a JSON object like {\"step\": \"booted\", \"detail\": \"...\"}");
            return;
        }
        JsonNode stepNode = body.get("step");
        String step = stepNode != null && stepNode.isTextual() ? stepNode.asText() : null;
        if (step == null || !AgentStep.parse(step).isPresent()) {
            LOG.warn("status: refused report of {} ({}) from {}: unknown step {}", m.name(), m.mac(), ctx.ip(),
                    BootScripts.safe(String.valueOf(stepNode)));
            plain(ctx, 400, "unknown step " + BootScripts.safe(String.valueOf(stepNode)) + "; expected one of "
                    + String.join(", ", AgentStep.wireNames()));
            return;
        }
        String detail = text(body.get("detail"));
        if (detail != null && detail.length() > MAX_DETAIL) {
            detail = detail.substring(0, MAX_DETAIL) + "...";
        }
        String kernel = text(body.get("kernel"));
        String phase = text(body.get("phase"));
        Map<String, Object> image = null;
        JsonNode imageNode = body.get("image");
        if (imageNode != null && imageNode.isObject()) {
            image = Json.MAPPER.convertValue(imageNode, Json.MAPPER.getTypeFactory().constructMapType(LinkedHashMap.class, String.class, Object.class));
        } else if (imageNode != null && !imageNode.isNull()) {
            // Still record the step: losing "ready" over a damaged image.json would stall the cluster.
            LOG.warn("status: {} ({}) sent an 'image' that is not a JSON object (is its /etc/kiln/image.json damaged?): {}",
                    m.name(), m.mac(), BootScripts.safe(snippet(imageNode.toString())));
        }
        NodeStatus s = status.record(m.mac(), step, detail, phase, image, kernel, ctx.ip());
        String reported = s.reportedImage();
        if (AgentStep.FAILED.is(step)) {
            LOG.error("status: {} ({}) of cluster {} FAILED: {}", m.name(), m.mac(), m.cluster().name(), detail);
        } else {
            LOG.info("status: {} ({}) of cluster {}: {}{} [image {}, kernel {}]", m.name(), m.mac(), m.cluster().name(), step,
                    detail == null || detail.isEmpty() ? "" : ": " + detail, reported, s.kernel());
        }
        if (reported != null && !reported.equals(m.image().toString())) {
            LOG.warn("status: {} ({}) runs {} but the inventory assigns {}", m.name(), m.mac(), reported, m.image());
        }
        ctx.status(204);
    }

    /** A node's check results, sent by its agent when a validation run asked for checks. */
    private void checks(Context ctx) throws IOException {
        Inventory.Member m = authenticate(ctx, inventory.current());
        if (m == null) {
            return;
        }
        JsonNode body = objectBody(ctx);
        JsonNode list = body == null ? null : body.get("checks");
        if (list == null || !list.isArray()) {
            plain(ctx, 400, "expected a JSON object like {\"checks\": [{\"check\": \"units-active\", \"status\": \"pass\", ...}]}");
            return;
        }
        List<Map<String, Object>> results = Json.MAPPER.convertValue(list,
                Json.MAPPER.getTypeFactory().constructCollectionType(List.class, Json.MAPPER.getTypeFactory()
                        .constructMapType(LinkedHashMap.class, String.class, Object.class)));
        if (!status.recordChecks(m.mac(), results)) {
            plain(ctx, 409, "report a step to /status before sending check results");
            return;
        }
        LOG.info("checks: {} ({}) sent {} check result(s)", m.name(), m.mac(), results.size());
        ctx.status(204);
    }

    /** The last status of a node, or null if it never reported. */
    public NodeStatus status(String mac) {
        return status.get(mac);
    }

    /** Calls {@code listener} with (MAC, new status) after every node report. */
    public void onStatus(java.util.function.BiConsumer<String, NodeStatus> listener) {
        status.onChange(listener);
    }

    /** The request body if it is a JSON object, else null. */
    private static JsonNode objectBody(Context ctx) {
        try {
            JsonNode body = Json.MAPPER.readTree(ctx.bodyAsBytes());
            return body != null && body.isObject() ? body : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static String snippet(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? null : n.isTextual() ? n.asText() : n.toString();
    }

    private void nodes(Context ctx) throws IOException {
        Instant now = Instant.now();
        List<NodeView> rows = new ArrayList<>();
        for (Inventory.Member m : inventory.current().members()) {
            NodeStatus s = status.get(m.mac());
            rows.add(new NodeView(m.mac(), m.cluster().name(), m.name(), m.node().role(), m.bootstrapRole(), m.node().address(),
                    m.image().toString(), m.channel(), s == null ? null : s.reportedImage(), s == null ? null : s.kernel(),
                    s == null ? null : s.step(), s == null ? null : s.detail(), s == null ? null : s.receivedAt(),
                    s == null ? null : s.ageSeconds(now)));
        }
        json(ctx, 200, rows);
    }

    private void peers(Context ctx) throws IOException {
        Inventory inv = inventory.current();
        Inventory.Member m = authenticate(ctx, inv);
        if (m == null) {
            return;
        }
        List<Map<String, String>> peers = new ArrayList<>();
        for (Inventory.Member p : inv.clusterOf(m)) {
            NodeStatus s = status.get(p.mac());
            Map<String, String> row = new LinkedHashMap<>();
            row.put("name", p.name());
            row.put("role", p.bootstrapRole());
            row.put("address", p.node().address());
            row.put("step", s == null ? null : s.step());
            peers.add(row);
        }
        json(ctx, 200, peers);
    }

    /**
     * The node a request's token belongs to, from "Authorization: Bearer TOKEN" or "?token=".
     * Otherwise answers 403, logs who asked for what, and returns null.
     */
    private Inventory.Member authenticate(Context ctx, Inventory inv) {
        String token = null;
        String auth = ctx.header("Authorization");
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            token = auth.substring(7).trim();
        }
        if (token == null || token.isEmpty()) {
            token = ctx.queryParam("token");
        }
        if (token == null || token.isEmpty()) {
            metrics.refused(FleetMetrics.endpoint(ctx.path()), "no-token");
            return forbidden(ctx, "no token (send Authorization: Bearer TOKEN)");
        }
        String mac = index(inv).macByDigest().get(NodeTokens.digest(token));
        Inventory.Member m = mac == null ? null : inv.member(mac);
        if (m == null) {
            metrics.refused(FleetMetrics.endpoint(ctx.path()), "bad-token");
            return forbidden(ctx, "token of no node in the inventory");
        }
        return m;
    }

    private Inventory.Member forbidden(Context ctx, String why) {
        LOG.warn("403 {} {} from {}: {}", ctx.method(), ctx.path(), ctx.ip(), why);
        plain(ctx, 403, "forbidden: missing or wrong node token");
        return null;
    }

    private TokenIndex index(Inventory inv) {
        TokenIndex idx = tokenIndex;
        if (idx == null || idx.inventory() != inv) {
            Map<String, String> byDigest = new HashMap<>();
            for (Inventory.Member m : inv.members()) {
                byDigest.put(NodeTokens.digest(tokens.token(m.mac())), m.mac());
            }
            idx = new TokenIndex(inv, byDigest);
            tokenIndex = idx;
        }
        return idx;
    }

    /**
     * An operator endpoint: with --admin-listen, served there only and without a credential (the
     * listener's address is the protection); otherwise it wants the operator credential, and a
     * request without one gets 401 with a basic-auth challenge, so a browser asks for it.
     */
    private io.javalin.http.Handler operator(io.javalin.http.Handler handler) {
        return ctx -> {
            boolean onAdmin = ADMIN.equals(org.eclipse.jetty.server.Request.getBaseRequest(ctx.req()).getHttpChannel()
                    .getConnector().getName());
            if (options.adminListen() != null) {
                if (!onAdmin) {
                    plain(ctx, 404, "operator endpoints are on the admin listener (--admin-listen)");
                    return;
                }
            } else if (operators.operator(ctx) == null) {
                boolean tried = ctx.header("Authorization") != null;
                LOG.warn("401 {} {} from {}: {}", ctx.method(), ctx.path(), ctx.ip(),
                        tried ? "wrong operator credential" : "no operator credential");
                metrics.refused(FleetMetrics.endpoint(ctx.path()), "operator-credential");
                ctx.header("WWW-Authenticate", "Basic realm=\"" + OperatorAuth.REALM + "\", charset=\"UTF-8\"");
                plain(ctx, 401, "operator credential required: Authorization: Bearer TOKEN, or basic auth with the token"
                        + " as password; the token is in " + OperatorAuth.TOKEN_FILE + " in kiln serve's state directory");
                return;
            }
            handler.handle(ctx);
        };
    }

    private static org.eclipse.jetty.server.Connector connector(org.eclipse.jetty.server.Server server,
            org.eclipse.jetty.server.HttpConfiguration http, String name, String host, int port) {
        org.eclipse.jetty.server.ServerConnector c = new org.eclipse.jetty.server.ServerConnector(server,
                new org.eclipse.jetty.server.HttpConnectionFactory(http));
        c.setName(name);
        c.setHost(host);
        c.setPort(port);
        return c;
    }

    /** What the fleet page shows, now. */
    public FleetView fleet() {
        return FleetView.build(inventory.current(), status::get, served, boots, options.store(), feeds, Instant.now());
    }

    /** Plugs in channels and rollouts (promotion and rollout live above this module). */
    public void feeds(FleetFeeds feeds) {
        this.feeds = feeds == null ? FleetFeeds.NONE : feeds;
    }

    /** The operator token if this start generated it (print it once), else null. */
    public String newOperatorToken() {
        return operators.newToken();
    }

    /** The operator credential of the operator endpoints (Authorization: Bearer). */
    public String operatorToken() {
        return operators.token();
    }

    /** The port of the --admin-listen listener, or -1 without one. */
    public int adminPort() {
        for (org.eclipse.jetty.server.Connector c : app.jettyServer().server().getConnectors()) {
            if (ADMIN.equals(c.getName())) {
                return ((org.eclipse.jetty.server.ServerConnector) c).getLocalPort();
            }
        }
        return -1;
    }

    /** GET /images: the versions in the store, each with its kernel, outputs and validation verdict. */
    private void imageList(Context ctx) throws IOException {
        java.util.Set<String> wanted = FleetView.inUse(inventory.current());
        List<Map<String, Object>> out = new ArrayList<>();
        for (Manifest m : options.store().list()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("image", m.ref());
            row.put("builtAt", m.builtAt());
            row.put("kernel", m.kernel() == null ? null : m.kernel().release());
            row.put("outputs", m.outputs());
            row.put("inInventory", wanted.contains(m.ref()));
            row.put("validation", FleetView.verdict(options.store(), ImageRef.parse(m.ref())));
            out.add(row);
        }
        json(ctx, 200, out);
    }

    private static void ipxe(Context ctx, String script) {
        ctx.status(200).contentType("text/plain; charset=utf-8").result(script);
    }

    static void plain(Context ctx, int status, String message) {
        ctx.status(status).contentType("text/plain; charset=utf-8").result(message + "\n");
    }

    private static void json(Context ctx, int status, Object value) throws IOException {
        ctx.status(status).contentType("application/json").result(Json.COMPACT.writeValueAsBytes(value));
    }

    /** Stops listening, then saves node status. */
    @Override
    public void close() {
        try {
            app.stop();
        } finally {
            inventory.close();
            status.close();
            LOG.info("stopped; node status saved in {}", options.stateDir());
        }
    }
}
