package dev.kiln.fleet;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import io.javalin.http.Context;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Why: the operator endpoints (nodes, images, metrics, the fleet page) and their credential are
 * apart from what nodes ask.
 */
final class OperatorEndpoints {
    // kiln serve's log lines keep naming KilnServer, as operators know them.
    private static final Logger LOG = LoggerFactory.getLogger(KilnServer.class);

    private final KilnServer.Options options;
    private final InventoryWatcher inventory;
    private final StatusBook status;
    private final OperatorAuth operators;
    private final FleetMetrics metrics;
    private final java.util.function.UnaryOperator<Inventory.Member> current;
    private final java.util.function.Function<Inventory.Member, ServedVersions.Desired> desired;

    /**
     * @param current a member as it boots now (its current version), see NodeEndpoints#current
     * @param desired what a member should run (the inventory's, or set by a rollout's --to)
     */
    OperatorEndpoints(
            KilnServer.Options options,
            InventoryWatcher inventory,
            StatusBook status,
            OperatorAuth operators,
            FleetMetrics metrics,
            java.util.function.UnaryOperator<Inventory.Member> current,
            java.util.function.Function<Inventory.Member, ServedVersions.Desired> desired) {
        this.current = current;
        this.desired = desired;
        this.options = options;
        this.inventory = inventory;
        this.status = status;
        this.operators = operators;
        this.metrics = metrics;
    }

    /** GET /metrics: Prometheus text. */
    void metrics(Context ctx) throws IOException {
        ctx.status(200).contentType(metrics.contentType()).result(metrics.scrape());
    }

    /**
     * An operator endpoint: with --admin-listen, served there only and without a credential (the
     * listener's address is the protection); otherwise it wants the operator credential, and a
     * request without one gets 401 with a basic-auth challenge, so a browser asks for it.
     */
    io.javalin.http.Handler operator(io.javalin.http.Handler handler) {
        return ctx -> {
            boolean onAdmin = KilnServer.ADMIN.equals(org.eclipse.jetty.server.Request.getBaseRequest(ctx.req())
                    .getHttpChannel()
                    .getConnector()
                    .getName());
            if (options.adminListen() != null) {
                if (!onAdmin) {
                    KilnServer.plain(ctx, 404, "operator endpoints are on the admin listener (--admin-listen)");
                    return;
                }
            } else if (operators.operator(ctx) == null) {
                boolean tried = ctx.header("Authorization") != null;
                LOG.warn(
                        "401 {} {} from {}: {}",
                        ctx.method(),
                        ctx.path(),
                        ctx.ip(),
                        tried ? "wrong operator credential" : "no operator credential");
                metrics.refused(FleetMetrics.endpoint(ctx.path()), "operator-credential");
                ctx.header("WWW-Authenticate", "Basic realm=\"" + OperatorAuth.REALM + "\", charset=\"UTF-8\"");
                KilnServer.plain(
                        ctx,
                        401,
                        "operator credential required: Authorization: Bearer TOKEN, or basic auth with the token"
                                + " as password; the token is in "
                                + OperatorAuth.TOKEN_FILE
                                + " in kiln serve's state directory");
                return;
            }
            handler.handle(ctx);
        };
    }

    void nodes(Context ctx) throws IOException {
        Instant now = Instant.now();
        List<NodeView> rows = new ArrayList<>();
        for (Inventory.Member m : inventory.current().members()) {
            NodeStatus s = status.get(m.mac());
            ServedVersions.Desired wanted = desired.apply(m);
            rows.add(new NodeView(
                    m.mac(),
                    m.cluster().name(),
                    m.name(),
                    m.node().role(),
                    m.bootstrapRole(),
                    m.node().address(),
                    m.image().toString(),
                    m.channel(),
                    s == null ? null : s.reportedImage(),
                    s == null ? null : s.kernel(),
                    s == null ? null : s.step(),
                    s == null ? null : s.detail(),
                    s == null ? null : s.receivedAt(),
                    s == null ? null : s.ageSeconds(now),
                    s == null ? null : current.apply(m).image().toString(),
                    wanted.image(),
                    wanted.setBy()));
        }
        KilnServer.json(ctx, 200, rows);
    }

    /**
     * GET /images: the versions in the store, each with its kernel, outputs and validation verdict.
     */
    void imageList(Context ctx) throws IOException {
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
        KilnServer.json(ctx, 200, out);
    }
}
