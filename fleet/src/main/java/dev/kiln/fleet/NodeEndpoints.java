package dev.kiln.fleet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import dev.kiln.core.node.AgentStep;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.pxe.FirmwareBinaries;
import io.javalin.http.Context;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Why: what nodes ask of kiln serve (iPXE scripts, metadata, status, checks, peers) is one concern,
 * apart from the server's lifecycle.
 */
final class NodeEndpoints {
    // kiln serve's log lines keep naming KilnServer, as operators know them.
    private static final Logger LOG = LoggerFactory.getLogger(KilnServer.class);
    private static final int MAX_DETAIL = 4096;

    /** The pxe/ files a version needs to boot over the network. */
    static final List<String> PXE_FILES =
            List.of("pxe/boot.ipxe", "pxe/vmlinuz", "pxe/initrd.img", "pxe/rootfs.squashfs");

    private final KilnServer.Options options;
    private final Supplier<String> publicUrl;
    private final InventoryWatcher inventory;
    private final StatusBook status;
    private final NodeTokens tokens;
    private final ClusterSecrets secrets;
    private final ServedVersions served;
    private final BootDirectives directives;
    private final SignatureGate signatures;
    private final FleetMetrics metrics;
    private final NodeAuth auth;

    /**
     * @param publicUrl known only once the server listens; read per request
     */
    NodeEndpoints(
            KilnServer.Options options,
            Supplier<String> publicUrl,
            InventoryWatcher inventory,
            StatusBook status,
            NodeTokens tokens,
            ClusterSecrets secrets,
            ServedVersions served,
            BootDirectives directives,
            SignatureGate signatures,
            FleetMetrics metrics) {
        this.options = options;
        this.publicUrl = publicUrl;
        this.inventory = inventory;
        this.status = status;
        this.tokens = tokens;
        this.secrets = secrets;
        this.served = served;
        this.directives = directives;
        this.signatures = signatures;
        this.metrics = metrics;
        this.auth = new NodeAuth(tokens, metrics);
    }

    void firmwareBinary(Context ctx) throws IOException {
        String name = ctx.pathParam("file");
        java.util.Optional<Path> file = FirmwareBinaries.file(name);
        if (file.isEmpty()) {
            KilnServer.plain(
                    ctx,
                    404,
                    FirmwareBinaries.NAMES.contains(name)
                            ? name + " is not installed on this server (Debian package 'ipxe')"
                            : "no such iPXE binary; kiln serves " + String.join(", ", FirmwareBinaries.NAMES));
            return;
        }
        ctx.status(200).contentType("application/octet-stream").result(java.nio.file.Files.readAllBytes(file.get()));
    }

    void nodeScript(Context ctx) throws IOException {
        String raw = ctx.queryParam("mac");
        String mac = MacAddress.normalize(raw);
        if (mac == null) {
            LOG.warn(
                    "ipxe: refused request from {}: '{}' is not a MAC address",
                    ctx.ip(),
                    BootScripts.safe(String.valueOf(raw)));
            metrics.refused("/ipxe", "bad-mac");
            KilnServer.plain(ctx, 400, "expected /ipxe?mac=52:54:00:12:34:56");
            return;
        }
        Inventory inv = inventory.current();
        Inventory.Member m = current(inv.member(mac));
        if (m == null) {
            LOG.warn("ipxe: refused {} (from {}): not in the inventory {}", mac, ctx.ip(), inv.file());
            metrics.refused("/ipxe", "unknown-mac");
            KilnServer.ipxe(
                    ctx,
                    BootScripts.refuse(publicUrl.get(), mac, "MAC " + mac + " is not in the inventory " + inv.file()));
            return;
        }
        String who = m.name() + " of cluster " + m.cluster().name();
        String why = unbootable(inv, m.image());
        if (why != null) {
            LOG.warn("ipxe: refused {} ({}, from {}): {}", mac, who, ctx.ip(), why);
            metrics.refused("/ipxe", "unbootable");
            KilnServer.ipxe(ctx, BootScripts.refuse(publicUrl.get(), mac, who + ": " + why));
            return;
        }
        LOG.info("ipxe: {} (from {}) is {} ({}), booting {}", mac, ctx.ip(), who, m.bootstrapRole(), m.image());
        served.record(mac, m.image().toString());
        status.record(mac, NodeStatus.IPXE, "boot script served for " + m.image(), null, null, null, ctx.ip());
        KilnServer.ipxe(
                ctx,
                BootScripts.boot(publicUrl.get(), mac, m.name(), m.cluster().name(), m.image(), tokens.token(mac)));
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
        return signatures == null
                ? null
                : signatures.refusal(ref, options.store().dir(ref));
    }

    void metadata(Context ctx) throws IOException {
        Inventory inv = inventory.current();
        Inventory.Member m = auth.authenticate(ctx, inv);
        if (m == null) {
            return;
        }
        LOG.info("metadata: {} ({}) fetched its metadata from {}", m.name(), m.mac(), ctx.ip());
        KilnServer.json(ctx, 200, metadataOf(inv, current(m)));
    }

    /**
     * The metadata document GET /metadata gives the node with this MAC (the token is not in it), or
     * null if the inventory has no such node: for handing it over some other way, such as EC2 user
     * data.
     */
    Map<String, String> metadataOf(String mac) throws IOException {
        Inventory inv = inventory.current();
        Inventory.Member m = current(inv.member(mac));
        return m == null ? null : metadataOf(inv, m);
    }

    private Map<String, String> metadataOf(Inventory inv, Inventory.Member m) throws IOException {
        Map<String, String> doc = new LinkedHashMap<>(NodeMetadata.of(inv, m, publicUrl.get()));
        doc.putAll(secrets.forNode(m.cluster().name(), m.isMaster()));
        // A rollout's directive for this boot wins over what the inventory alone says.
        doc.putAll(directives.get(m.mac()));
        return doc;
    }

    /**
     * The member as it boots now: on its current version (the one last handed out, moved only by a
     * rollout), or, on its first boot, the desired one. Null stays null.
     */
    Inventory.Member current(Inventory.Member m) {
        if (m == null) {
            return null;
        }
        ServedVersions.Served given = served.get(m.mac());
        if (given == null || given.image().equals(m.image().toString())) {
            return m;
        }
        ImageRef ref;
        try {
            ref = ImageRef.parse(given.image());
        } catch (IllegalArgumentException e) {
            LOG.warn(
                    "{} ({}): current version '{}' in served.json is not NAME:VERSION; using the inventory's {}",
                    m.name(),
                    m.mac(),
                    given.image(),
                    m.image());
            return m;
        }
        return new Inventory.Member(m.mac(), m.node(), m.cluster(), ref, m.bootstrapRole(), m.channel());
    }

    void report(Context ctx) throws IOException {
        Inventory inv = inventory.current();
        Inventory.Member m = auth.authenticate(ctx, inv);
        if (m == null) {
            return;
        }
        JsonNode body = objectBody(ctx);
        if (body == null) {
            KilnServer.plain(ctx, 400, "expected a JSON object like {\"step\": \"booted\", \"detail\": \"...\"}");
            return;
        }
        JsonNode stepNode = body.get("step");
        String step = stepNode != null && stepNode.isTextual() ? stepNode.asText() : null;
        if (step == null || !AgentStep.parse(step).isPresent()) {
            LOG.warn(
                    "status: refused report of {} ({}) from {}: unknown step {}",
                    m.name(),
                    m.mac(),
                    ctx.ip(),
                    BootScripts.safe(String.valueOf(stepNode)));
            KilnServer.plain(
                    ctx,
                    400,
                    "unknown step "
                            + BootScripts.safe(String.valueOf(stepNode))
                            + "; expected one of "
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
            image = Json.MAPPER.convertValue(
                    imageNode,
                    Json.MAPPER.getTypeFactory().constructMapType(LinkedHashMap.class, String.class, Object.class));
        } else if (imageNode != null && !imageNode.isNull()) {
            // Still record the step: losing "ready" over a damaged image.json would stall the
            // cluster.
            LOG.warn(
                    "status: {} ({}) sent an 'image' that is not a JSON object (is its /etc/kiln/image.json damaged?): {}",
                    m.name(),
                    m.mac(),
                    BootScripts.safe(snippet(imageNode.toString())));
        }
        NodeStatus s = status.record(m.mac(), step, detail, phase, image, kernel, ctx.ip());
        String reported = s.reportedImage();
        if (AgentStep.FAILED.is(step)) {
            LOG.error(
                    "status: {} ({}) of cluster {} FAILED: {}",
                    m.name(),
                    m.mac(),
                    m.cluster().name(),
                    detail);
        } else {
            LOG.info(
                    "status: {} ({}) of cluster {}: {}{} [image {}, kernel {}]",
                    m.name(),
                    m.mac(),
                    m.cluster().name(),
                    step,
                    detail == null || detail.isEmpty() ? "" : ": " + detail,
                    reported,
                    s.kernel());
        }
        Inventory.Member now = current(m);
        if (reported != null && !reported.equals(now.image().toString())) {
            LOG.warn("status: {} ({}) runs {} but was given {}", m.name(), m.mac(), reported, now.image());
        }
        ctx.status(204);
    }

    /** A node's check results, sent by its agent when a validation run asked for checks. */
    void checks(Context ctx) throws IOException {
        Inventory.Member m = auth.authenticate(ctx, inventory.current());
        if (m == null) {
            return;
        }
        JsonNode body = objectBody(ctx);
        JsonNode list = body == null ? null : body.get("checks");
        if (list == null || !list.isArray()) {
            KilnServer.plain(
                    ctx,
                    400,
                    "expected a JSON object like {\"checks\": [{\"check\": \"units-active\", \"status\": \"pass\", ...}]}");
            return;
        }
        List<Map<String, Object>> results = Json.MAPPER.convertValue(
                list,
                Json.MAPPER
                        .getTypeFactory()
                        .constructCollectionType(
                                List.class,
                                Json.MAPPER
                                        .getTypeFactory()
                                        .constructMapType(LinkedHashMap.class, String.class, Object.class)));
        if (!status.recordChecks(m.mac(), results)) {
            KilnServer.plain(ctx, 409, "report a step to /status before sending check results");
            return;
        }
        LOG.info("checks: {} ({}) sent {} check result(s)", m.name(), m.mac(), results.size());
        ctx.status(204);
    }

    void peers(Context ctx) throws IOException {
        Inventory inv = inventory.current();
        Inventory.Member m = auth.authenticate(ctx, inv);
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
        KilnServer.json(ctx, 200, peers);
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
}
