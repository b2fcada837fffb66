package dev.kiln.fleet;

import io.javalin.http.Context;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Why: who a node is comes only from its token; one place maps tokens to inventory members and
 * refuses the rest.
 */
final class NodeAuth {
    // kiln serve's log lines keep naming KilnServer, as operators know them.
    private static final Logger LOG = LoggerFactory.getLogger(KilnServer.class);

    private final NodeTokens tokens;
    private final FleetMetrics metrics;
    private volatile TokenIndex tokenIndex;

    /** Token digest → MAC for one inventory; rebuilt when the inventory changes. */
    private record TokenIndex(Inventory inventory, Map<String, String> macByDigest) {}

    NodeAuth(NodeTokens tokens, FleetMetrics metrics) {
        this.tokens = tokens;
        this.metrics = metrics;
    }

    /**
     * The node a request's token belongs to, from "Authorization: Bearer TOKEN" or "?token=".
     * Otherwise answers 403, logs who asked for what, and returns null.
     */
    Inventory.Member authenticate(Context ctx, Inventory inv) {
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
        KilnServer.plain(ctx, 403, "forbidden: missing or wrong node token");
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
}
