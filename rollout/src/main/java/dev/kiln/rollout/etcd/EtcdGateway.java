package dev.kiln.rollout.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.core.json.Json;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A client of etcd's v3 JSON gateway (the grpc-gateway every etcd 3.4 member serves on its client
 * URL: {@code POST http://HOST:2379/v3/...}), enough for a rollout to keep a control plane's etcd
 * safe while its members are replaced one by one: the member list, each member's status, health
 * (every member answers and all agree on one leader), moving the leader away from a member about
 * to go, and removing the old member. JSON rules of the gateway: 64-bit integers are decimal
 * strings, keys and values base64; member ids are shown here in hex, as {@code etcdctl} prints
 * them.
 *
 * <p>Any endpoint may be down: cluster-wide calls try the endpoints in order and move on when one
 * cannot be reached; an endpoint that answers with an etcd error is final (the cluster said no).
 * Plain HTTP only: kiln's clusters are reached on their client URL without TLS client certificates
 * (a kubeadm etcd with client TLS needs another transport, not written yet).
 */
public final class EtcdGateway {
    /** A member as the member list shows it; one added but not started yet has an empty name. */
    public record Member(String id, String name, List<String> peerUrls, List<String> clientUrls, boolean learner) {
        public Member {
            peerUrls = List.copyOf(peerUrls);
            clientUrls = List.copyOf(clientUrls);
        }

        /** Started members have a name and client URLs; an added-but-not-started one has neither. */
        public boolean started() {
            return !name.isEmpty() && !clientUrls.isEmpty();
        }

        /** "m2 (http://10.0.0.12:2379)", or the id and peer URL of a member that never started. */
        public String label() {
            if (started()) {
                return name + " (" + clientUrls.get(0) + ")";
            }
            return id + " (not started, peer " + String.join(",", peerUrls) + ")";
        }
    }

    /** One member's own view (Maintenance.Status): ids in hex, "0" leader when it has none. */
    public record Status(
            String memberId, String leaderId, long raftIndex, long raftTerm, String version, List<String> errors) {
        public Status {
            errors = List.copyOf(errors);
        }
    }

    /**
     * The cluster as the rollout sees it before touching a member. {@code ok} when every member
     * answered without errors and all named the same leader; otherwise {@code problems} says, per
     * member, what is wrong (these become the rollout plan's blockers).
     *
     * @param healthy ids of the members that answered status without errors and with a leader
     * @param leaderId the leader the healthy members agree on, or null
     */
    public record Health(
            boolean ok, List<String> problems, List<Member> members, Set<String> healthy, String leaderId) {
        public Health {
            problems = List.copyOf(problems);
            members = List.copyOf(members);
            healthy = Set.copyOf(healthy);
        }

        /**
         * Why removing member {@code id} now would put the cluster at risk, or empty: the members
         * other than {@code id} that are healthy must be a majority of what is left (see {@link
         * EtcdGateway#removalKeepsQuorum}).
         */
        public Optional<String> removalBlocker(String id) {
            int remainingHealthy =
                    (int) healthy.stream().filter(h -> !h.equals(id)).count();
            return quorumBlocker(members.size(), remainingHealthy);
        }
    }

    /** How long {@link #removeMember} waits out etcd's "unhealthy cluster" refusal. */
    public static final Duration REMOVE_PATIENCE = Duration.ofSeconds(10);

    private final List<URI> endpoints;
    private final Duration timeout;
    private final HttpClient http;

    /**
     * @param endpoints client URLs ({@code http://HOST:2379}); calls that any member can answer try
     *     them in order
     * @param timeout for connecting and for each request
     */
    public EtcdGateway(List<URI> endpoints, Duration timeout) {
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("etcd: no endpoint given (expected client URLs like http://HOST:2379)");
        }
        for (URI e : endpoints) {
            if (!"http".equals(e.getScheme()) || e.getHost() == null) {
                throw new IllegalArgumentException("etcd endpoint " + e + ": expected http://HOST:PORT");
            }
        }
        this.endpoints = List.copyOf(endpoints);
        this.timeout = timeout;
        // HTTP/1.1: the gateway shares the port with gRPC (HTTP/2), and h2c upgrade attempts confuse it.
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(timeout)
                .build();
    }

    public List<URI> endpoints() {
        return endpoints;
    }

    /** The member list (Cluster.MemberList), from the first endpoint that answers. */
    public List<Member> members() throws EtcdException {
        JsonNode r = anyEndpoint("member list", "/v3/cluster/member/list", Json.MAPPER.createObjectNode());
        return members(r.path("members"));
    }

    /** What the member at {@code endpoint} says about itself and its leader (Maintenance.Status). */
    public Status status(URI endpoint) throws EtcdException {
        JsonNode r = call(endpoint, "status", "/v3/maintenance/status", Json.MAPPER.createObjectNode());
        List<String> errors = new ArrayList<>();
        r.path("errors").forEach(e -> errors.add(e.asText()));
        return new Status(
                hex(r.path("header").path("member_id").asText("0")),
                hex(r.path("leader").asText("0")),
                r.path("raftIndex").asLong(0),
                r.path("raftTerm").asLong(0),
                r.path("version").asText(""),
                errors);
    }

    /** Adds a (voting) member that will start later with these peer URLs; returns it (no name yet). */
    public Member addMember(List<String> peerUrls) throws EtcdException {
        ObjectNode body = Json.MAPPER.createObjectNode();
        peerUrls.forEach(body.putArray("peerURLs")::add);
        JsonNode r = anyEndpoint("member add " + peerUrls, "/v3/cluster/member/add", body);
        return member(r.path("member"));
    }

    /**
     * Removes member {@code id} (hex); the removed etcd process stops itself. etcd refuses a removal
     * ("etcdserver: unhealthy cluster") until the members that would remain have been connected to
     * the leader for its health interval (5 s), e.g. right after a replaced member rejoined: that
     * refusal is retried for up to {@link #REMOVE_PATIENCE}, then thrown.
     */
    public void removeMember(String id) throws EtcdException, InterruptedException {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("ID", decimal(id));
        long deadline = System.nanoTime() + REMOVE_PATIENCE.toNanos();
        while (true) {
            try {
                anyEndpoint("member remove " + id, "/v3/cluster/member/remove", body);
                return;
            } catch (EtcdException e) {
                if (!e.reason().equals("etcdserver: unhealthy cluster") || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(250);
            }
        }
    }

    /**
     * Hands leadership to member {@code toMemberId} (hex). etcd accepts this only from the current
     * leader, so {@code leaderEndpoint} must be the leader's client URL (see {@link #leader}).
     */
    public void moveLeader(URI leaderEndpoint, String toMemberId) throws EtcdException {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("targetID", decimal(toMemberId));
        call(leaderEndpoint, "move leader to " + toMemberId, "/v3/maintenance/transfer-leadership", body);
    }

    /** The member the cluster names as leader, as seen from the first endpoint that answers. */
    public Optional<Member> leader() throws EtcdException {
        List<Member> members = members();
        List<String> failures = new ArrayList<>();
        for (URI e : endpoints) {
            try {
                String leaderId = status(e).leaderId();
                return members.stream().filter(m -> m.id().equals(leaderId)).findFirst();
            } catch (EtcdException ex) {
                failures.add(ex.getMessage());
            }
        }
        throw new EtcdException("no etcd endpoint answered status: ", String.join("; ", failures), -1, null);
    }

    /**
     * Asks every member, on its own client URL, for its status. Never throws for an unreachable
     * cluster or member: that is what the problems are for.
     */
    public Health health() {
        List<Member> members;
        try {
            members = members();
        } catch (EtcdException e) {
            return new Health(false, List.of(e.getMessage()), List.of(), Set.of(), null);
        }
        List<String> problems = new ArrayList<>();
        Set<String> healthy = new LinkedHashSet<>();
        Map<String, String> leaderOf = new LinkedHashMap<>();
        for (Member m : members) {
            if (!m.started()) {
                problems.add("etcd member " + m.label() + " was added but has not joined");
                continue;
            }
            Status s = null;
            String failure = null;
            for (String url : m.clientUrls()) {
                try {
                    s = status(URI.create(url));
                    break;
                } catch (EtcdException e) {
                    failure = failure != null ? failure : e.reason();
                } catch (IllegalArgumentException e) {
                    failure = failure != null ? failure : "bad client URL " + url;
                }
            }
            if (s == null) {
                problems.add("etcd member " + m.label() + " does not answer: " + failure);
            } else if (!s.errors().isEmpty()) {
                problems.add("etcd member " + m.label() + " reports: " + String.join("; ", s.errors()));
            } else if ("0".equals(s.leaderId())) {
                problems.add("etcd member " + m.label() + " has no leader");
            } else {
                healthy.add(m.id());
                leaderOf.put(m.id(), s.leaderId());
            }
        }
        Set<String> leaders = new LinkedHashSet<>(leaderOf.values());
        String leader = null;
        if (leaders.size() > 1) {
            List<String> views = new ArrayList<>();
            leaderOf.forEach((member, l) -> views.add(name(members, member) + " says " + name(members, l)));
            problems.add("etcd members disagree on the leader: " + String.join(", ", views));
        } else if (leaders.size() == 1) {
            leader = leaders.iterator().next();
            String l = leader;
            if (members.stream().noneMatch(m -> m.id().equals(l))) {
                problems.add("etcd leader " + l + " is not in the member list");
            }
        }
        return new Health(problems.isEmpty(), problems, members, healthy, leader);
    }

    /**
     * Whether removing one member of an {@code members}-member cluster keeps quorum: n-1 members
     * remain and the {@code healthyRemaining} healthy ones among them must be a strict majority of
     * n-1 (more than (n-1)/2). A cluster of 1 or 2 members never qualifies: removing one leaves a
     * cluster that loses quorum with the next failure (or no cluster at all).
     *
     * @param healthyRemaining healthy members other than the one to be removed
     */
    public static boolean removalKeepsQuorum(int members, int healthyRemaining) {
        return quorumBlocker(members, healthyRemaining).isEmpty();
    }

    /** The blocker text behind {@link #removalKeepsQuorum}, or empty when removal is safe. */
    public static Optional<String> quorumBlocker(int members, int healthyRemaining) {
        if (members < 3) {
            return Optional.of("etcd quorum at risk: the cluster has " + members + " member" + (members == 1 ? "" : "s")
                    + "; replacing one needs at least 3");
        }
        int remaining = members - 1;
        int majority = remaining / 2 + 1;
        if (healthyRemaining < majority) {
            return Optional.of("etcd quorum at risk: removing one of " + members + " members leaves " + remaining
                    + ", of which " + healthyRemaining + " healthy; " + majority + " are needed");
        }
        return Optional.empty();
    }

    /** Writes {@code value} under {@code key} (both UTF-8). */
    public void put(String key, String value) throws EtcdException {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("key", b64(key));
        body.put("value", b64(value));
        anyEndpoint("put " + key, "/v3/kv/put", body);
    }

    /** The value under {@code key}, or empty when there is none. */
    public Optional<String> get(String key) throws EtcdException {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("key", b64(key));
        JsonNode kvs = anyEndpoint("get " + key, "/v3/kv/range", body).path("kvs");
        if (kvs.isEmpty()) {
            return Optional.empty();
        }
        // The gateway leaves out empty fields: an empty value has no "value".
        return Optional.of(
                new String(Base64.getDecoder().decode(kvs.get(0).path("value").asText("")), StandardCharsets.UTF_8));
    }

    private JsonNode anyEndpoint(String what, String path, JsonNode body) throws EtcdException {
        List<String> unreachable = new ArrayList<>();
        for (URI e : endpoints) {
            try {
                return call(e, what, path, body);
            } catch (EtcdException ex) {
                if (ex.code() != -1) {
                    throw ex; // etcd answered: that answer stands
                }
                unreachable.add(ex.getMessage());
            }
        }
        throw new EtcdException("no etcd endpoint answered " + what + ": ", String.join("; ", unreachable), -1, null);
    }

    private JsonNode call(URI endpoint, String what, String path, JsonNode body) throws EtcdException {
        String prefix = "etcd at " + endpoint + ": " + what + ": ";
        HttpRequest req;
        try {
            req = HttpRequest.newBuilder(endpoint.resolve(path))
                    .timeout(timeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Json.COMPACT.writeValueAsBytes(body)))
                    .build();
        } catch (IOException | IllegalArgumentException e) {
            throw new EtcdException(prefix, String.valueOf(e.getMessage()), -1, e);
        }
        HttpResponse<byte[]> resp;
        try {
            resp = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new EtcdException(prefix, transport(e), -1, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EtcdException(prefix, "interrupted", -1, e);
        }
        JsonNode json;
        try {
            json = Json.MAPPER.readTree(resp.body());
        } catch (IOException e) {
            throw new EtcdException(
                    prefix,
                    "HTTP " + resp.statusCode() + " with a body that is not JSON (is this etcd's client URL?): "
                            + snippet(resp.body()),
                    resp.statusCode() == 200 ? 2 : resp.statusCode(),
                    e);
        }
        if (json == null || resp.statusCode() != 200 || json.has("error")) {
            String message = json != null && json.has("error")
                    ? json.path("error").asText()
                    : "HTTP " + resp.statusCode() + " " + snippet(resp.body());
            int code = json != null && json.has("code") ? json.path("code").asInt(2) : 2;
            throw new EtcdException(prefix, message, code, null);
        }
        return json;
    }

    private static List<Member> members(JsonNode list) {
        List<Member> out = new ArrayList<>();
        list.forEach(m -> out.add(member(m)));
        return out;
    }

    private static Member member(JsonNode m) {
        List<String> peers = new ArrayList<>();
        m.path("peerURLs").forEach(u -> peers.add(u.asText()));
        List<String> clients = new ArrayList<>();
        m.path("clientURLs").forEach(u -> clients.add(u.asText()));
        return new Member(
                hex(m.path("ID").asText("0")),
                m.path("name").asText(""),
                peers,
                clients,
                m.path("isLearner").asBoolean(false));
    }

    private static String name(List<Member> members, String id) {
        return members.stream()
                .filter(m -> m.id().equals(id) && !m.name().isEmpty())
                .map(Member::name)
                .findFirst()
                .orElse(id);
    }

    /** The gateway's decimal uint64 as etcdctl's hex. */
    static String hex(String decimal) {
        return Long.toHexString(Long.parseUnsignedLong(decimal));
    }

    /** etcdctl's hex member id as the gateway's decimal uint64. */
    static String decimal(String hexId) {
        try {
            return Long.toUnsignedString(Long.parseUnsignedLong(hexId, 16));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(
                    "etcd member id '" + hexId + "': expected a hex id as etcdctl prints it, e.g. 8e9e05c52164694d");
        }
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private String transport(IOException e) {
        if (e instanceof HttpTimeoutException) {
            return "no answer within " + timeout.toMillis() + " ms";
        }
        // The JDK wraps the socket's ConnectException, often without a message of its own.
        String refused = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException) {
                refused = t.getMessage() != null
                        ? t.getMessage().toLowerCase(java.util.Locale.ROOT)
                        : "connection refused";
            }
        }
        if (refused != null) {
            return refused;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null) {
                return t.getMessage();
            }
        }
        return e.getClass().getSimpleName();
    }

    private static String snippet(byte[] body) {
        String s = new String(body, StandardCharsets.UTF_8).strip();
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
}
