package dev.kiln.fleet;

import dev.kiln.core.json.Json;
import dev.kiln.core.store.ChannelResolver;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.ManifestSignatures;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
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

    /**
     * @param host address to bind, like 0.0.0.0
     * @param port port to bind; 0 picks a free one (tests)
     * @param publicUrl base URL nodes use to reach this server; null means http://HOST:PORT
     * @param pollMillis how often the inventory file is checked for edits
     * @param images where versions come from; the server serves files from its local store
     * @param adminListen HOST:PORT of a second listener for the operator endpoints, or null: then
     *     they are on the main one and want the operator credential
     * @param trust public keys of which one must have signed a version for nodes to get it; empty:
     *     signatures are not required
     */
    public record Options(
            Path inventory,
            ImageSource images,
            String host,
            int port,
            String publicUrl,
            Path stateDir,
            long pollMillis,
            String adminListen,
            List<ManifestSignatures.Key> trust) {
        public Options {
            if (pollMillis <= 0) {
                pollMillis = 1000;
            }
            trust = trust == null ? List.of() : List.copyOf(trust);
        }

        public Options(
                Path inventory,
                ImageSource images,
                String host,
                int port,
                String publicUrl,
                Path stateDir,
                long pollMillis) {
            this(inventory, images, host, port, publicUrl, stateDir, pollMillis, null, List.of());
        }

        public Options(
                Path inventory,
                ImageSource images,
                String host,
                int port,
                String publicUrl,
                Path stateDir,
                long pollMillis,
                String adminListen) {
            this(inventory, images, host, port, publicUrl, stateDir, pollMillis, adminListen, List.of());
        }

        /** Serving straight from a local store. */
        public Options(
                Path inventory,
                ImageStore store,
                String host,
                int port,
                String publicUrl,
                Path stateDir,
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
    private final InventoryWatcher inventory;
    private final ImageFiles images;
    private final Javalin app;
    private final String publicUrl;
    private final OperatorAuth operators;
    private final ServedVersions served;
    private final BootDirectives directives;
    private final StateDir state;
    private final BootTimes boots;
    private volatile io.javalin.http.Handler rollouts =
            ctx -> plain(ctx, 404, "this kiln serve runs no rollout controller");
    private final FleetMetrics metrics;
    private volatile FleetFeeds feeds = FleetFeeds.NONE;
    private final NodeEndpoints nodeApi;
    private final OperatorEndpoints operatorApi;

    /** The Jetty connector name of the --admin-listen listener. */
    static final String ADMIN = "admin";

    private KilnServer(
            Options options,
            StatusBook status,
            NodeTokens tokens,
            ClusterSecrets secrets,
            InventoryWatcher inventory,
            OperatorAuth operators,
            ServedVersions served,
            BootDirectives directives,
            StateDir state) {
        this.options = options;
        this.directives = directives;
        this.state = state;
        this.status = status;
        this.tokens = tokens;
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
        ListenAddress admin =
                options.adminListen() == null ? null : ListenAddress.parse("--admin-listen", options.adminListen());
        SignatureGate signatures =
                options.trust().isEmpty() ? null : new SignatureGate(options.trust(), NodeEndpoints.PXE_FILES);
        this.nodeApi = new NodeEndpoints(
                options, this::publicUrl, inventory, status, tokens, secrets, served, directives, signatures, metrics);
        this.operatorApi = new OperatorEndpoints(
                options, inventory, status, operators, metrics, nodeApi::current, served::desired);
        this.app = Javalin.create(cfg -> {
            cfg.showJavalinBanner = false;
            cfg.startupWatcherEnabled = false;
            // Artifacts are compressed already, scripts and metadata are tiny;
            // compressing would
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
        String url = options.publicUrl() != null
                ? options.publicUrl()
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
            BootDirectives directives = BootDirectives.open(state);
            return new KilnServer(
                    options,
                    status,
                    tokens,
                    new ClusterSecrets(state),
                    inventory,
                    operators,
                    served,
                    directives,
                    state);
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
        if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme()))
                || u.getHost() == null
                || u.getQuery() != null
                || u.getFragment() != null
                || !url.matches("[A-Za-z0-9:/.\\[\\]_~-]+")) {
            throw new IllegalArgumentException(
                    "--public-url: expected http://HOST[:PORT][/PATH] as nodes reach this server, got " + url);
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
        app.get("/ipxe", nodeApi::nodeScript);
        // iPXE itself, for UEFI HTTP Boot (a server's firmware fetches it over HTTP, not TFTP).
        app.get("/ipxe/{file}", nodeApi::firmwareBinary);
        app.get("/images/<path>", ctx -> images.handle(ctx, false));
        app.head("/images/<path>", ctx -> images.handle(ctx, true));
        app.get("/metadata", nodeApi::metadata);
        app.post("/status", nodeApi::report);
        app.post("/checks", nodeApi::checks);
        app.get("/peers", nodeApi::peers);
        // Operator endpoints: the fleet's whole picture, for people and Prometheus, not for nodes.
        app.get("/nodes", operatorApi.operator(operatorApi::nodes));
        app.get("/images", operatorApi.operator(operatorApi::imageList));
        app.get("/metrics", operatorApi.operator(operatorApi::metrics));
        app.get("/ui", operatorApi.operator(ctx -> FleetUi.asset(ctx, "")));
        app.get("/ui/fleet.json", operatorApi.operator(ctx -> json(ctx, 200, fleet())));
        app.get("/ui/{file}", operatorApi.operator(ctx -> FleetUi.asset(ctx, ctx.pathParam("file"))));
        // The rollout controller's API (kiln rollout): it lives above this module and plugs in.
        for (String path : List.of("/rollouts", "/rollouts/<rest>")) {
            app.get(path, operatorApi.operator(ctx -> rollouts.handle(ctx)));
            app.post(path, operatorApi.operator(ctx -> rollouts.handle(ctx)));
        }
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("{} {} from {} failed", ctx.method(), ctx.path(), ctx.ip(), e);
            plain(ctx, 500, "internal error");
        });
    }

    /**
     * The metadata document GET /metadata gives the node with this MAC (the token is not in it), or
     * null if the inventory has no such node: for handing it over some other way, such as EC2 user
     * data.
     */
    public Map<String, String> metadataOf(String mac) throws IOException {
        return nodeApi.metadataOf(mac);
    }

    /** The last status of a node, or null if it never reported. */
    public NodeStatus status(String mac) {
        return status.get(mac);
    }

    /** Calls {@code listener} with (MAC, new status) after every node report. */
    public void onStatus(java.util.function.BiConsumer<String, NodeStatus> listener) {
        status.onChange(listener);
    }

    private static org.eclipse.jetty.server.Connector connector(
            org.eclipse.jetty.server.Server server,
            org.eclipse.jetty.server.HttpConfiguration http,
            String name,
            String host,
            int port) {
        org.eclipse.jetty.server.ServerConnector c = new org.eclipse.jetty.server.ServerConnector(
                server, new org.eclipse.jetty.server.HttpConnectionFactory(http));
        c.setName(name);
        c.setHost(host);
        c.setPort(port);
        return c;
    }

    /** What the fleet page shows, now. */
    public FleetView fleet() {
        Inventory inv = inventory.current();
        return FleetView.build(
                inv, status::get, served, boots, options.store(), withChannels(feeds, inv), Instant.now());
    }

    /**
     * The channels the inventory's images have in the promotion records serve already reads (for
     * NAME@ENV and revocations), unless a plugged-in feed brings its own.
     */
    private static FleetFeeds withChannels(FleetFeeds plugged, Inventory inv) {
        List<FleetFeeds.Channel> recorded = inv.channels().channels().entrySet().stream()
                .map(e -> new FleetFeeds.Channel(
                        e.getKey().name(),
                        e.getKey().env(),
                        e.getValue().version().version(),
                        e.getValue().since(),
                        e.getValue().by()))
                .sorted(java.util.Comparator.comparing(FleetFeeds.Channel::image)
                        .thenComparing(FleetFeeds.Channel::environment))
                .toList();
        if (recorded.isEmpty() || !plugged.channels().isEmpty()) {
            return plugged;
        }
        return new FleetFeeds() {
            @Override
            public List<Channel> channels() {
                return recorded;
            }

            @Override
            public List<Rollout> rollouts() {
                return plugged.rollouts();
            }
        };
    }

    /** Serves the operator endpoints under /rollouts (the rollout controller plugs in here). */
    public void rolloutApi(io.javalin.http.Handler handler) {
        this.rollouts = handler;
    }

    /** The local store versions are served from. */
    public ImageStore store() {
        return options.store();
    }

    /** Where versions come from (for "is it available here?"). */
    public ImageSource images() {
        return options.images();
    }

    /** kiln serve's state directory, where a rollout keeps its journal. */
    public StateDir state() {
        return state;
    }

    /**
     * The version {@code mac} boots now: the one last handed out, or the inventory's for a node
     * that never booted (null for a MAC the inventory does not have).
     */
    public dev.kiln.core.store.ImageRef currentImage(String mac) {
        Inventory.Member m = nodeApi.current(inventory.current().member(mac));
        return m == null ? null : m.image();
    }

    /** Whether {@code mac} ever was given a boot script (a new node has no current version). */
    public boolean hasBooted(String mac) {
        return served.get(MacAddress.normalize(mac)) != null;
    }

    /**
     * Makes {@code mac}'s next boots use {@code image}: the one way a node's version changes (a
     * step of rollout {@code rolloutId}). A version the inventory does not name becomes the node's
     * desired one, set by that rollout (see {@link ServedVersions}). Durable when it returns.
     */
    public void repoint(String mac, dev.kiln.core.store.ImageRef image, String rolloutId) throws IOException {
        String normalized = MacAddress.normalize(mac);
        Inventory.Member m = inventory.current().member(normalized);
        served.repoint(
                normalized,
                image.toString(),
                rolloutId,
                m == null ? image.toString() : m.image().toString());
    }

    /**
     * The version {@code mac} should run: the inventory's, or the one a rollout with {@code --to}
     * set over it; null for a MAC the inventory does not have.
     */
    public dev.kiln.core.store.ImageRef desiredImage(String mac) {
        Inventory.Member m = inventory.current().member(MacAddress.normalize(mac));
        return m == null
                ? null
                : dev.kiln.core.store.ImageRef.parse(served.desired(m).image());
    }

    /** Adds {@code metadata} to the node's metadata until {@link #clearDirective}; durable. */
    public void direct(String mac, Map<String, String> metadata) throws IOException {
        directives.set(MacAddress.normalize(mac), metadata);
    }

    public void clearDirective(String mac) throws IOException {
        directives.clear(MacAddress.normalize(mac));
    }

    /** The node's directive now (empty when none). */
    public Map<String, String> directive(String mac) {
        return directives.get(MacAddress.normalize(mac));
    }

    /**
     * Seconds of the node's last boot seen by this server, from boot script to ready, or null.
     */
    public Double lastBootSeconds(String mac) {
        BootTimes.Boot b = boots.get(MacAddress.normalize(mac));
        return b == null ? null : b.bootToReadySeconds();
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

    static void ipxe(Context ctx, String script) {
        ctx.status(200).contentType("text/plain; charset=utf-8").result(script);
    }

    static void plain(Context ctx, int status, String message) {
        ctx.status(status).contentType("text/plain; charset=utf-8").result(message + "\n");
    }

    static void json(Context ctx, int status, Object value) throws IOException {
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
