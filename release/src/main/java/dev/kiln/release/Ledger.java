package dev.kiln.release;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The history of one image, folded: where each environment points, revocations, approvals. */
public final class Ledger {
    private final String image;
    private final List<Event> events;

    public Ledger(String image, List<Event> events) {
        this.image = image;
        this.events = List.copyOf(events);
    }

    public String image() {
        return image;
    }

    public List<Event> events() {
        return events;
    }

    public long lastSeq() {
        return events.isEmpty() ? 0 : events.get(events.size() - 1).seq();
    }

    /** The event that put {@code env} where it points now, or null if it was never promoted. */
    public Event current(String env) {
        Event last = null;
        for (Event e : events) {
            if (e.moves() && env.equals(e.env())) {
                last = e;
            }
        }
        return last;
    }

    /** Environments that have ever been promoted to, in the order they first were. */
    public Set<String> environments() {
        Set<String> envs = new LinkedHashSet<>();
        events.stream().filter(Event::moves).forEach(e -> envs.add(e.env()));
        return envs;
    }

    /** The revocation of the version, or null. */
    public Event revocation(String version) {
        return events.stream()
                .filter(e -> Event.REVOKE.equals(e.type()) && version.equals(e.version()))
                .findFirst()
                .orElse(null);
    }

    /** version → revocation, for every revoked version. */
    public Map<String, Event> revocations() {
        Map<String, Event> out = new LinkedHashMap<>();
        events.stream().filter(e -> Event.REVOKE.equals(e.type())).forEach(e -> out.putIfAbsent(e.version(), e));
        return out;
    }

    /** The first approval of each distinct identity for this version and environment. */
    public List<Event> approvals(String version, String env) {
        Map<String, Event> byWho = new LinkedHashMap<>();
        events.stream()
                .filter(e -> Event.APPROVE.equals(e.type()) && version.equals(e.version()) && env.equals(e.env()))
                .forEach(e -> byWho.putIfAbsent(e.by(), e));
        return new ArrayList<>(byWho.values());
    }

    /** The events that put the version into env (promotions and rollbacks), oldest first. */
    public List<Event> entries(String env, String version) {
        return events.stream()
                .filter(e -> e.moves() && env.equals(e.env()) && version.equals(e.version()))
                .toList();
    }

    /**
     * How long {@code env} has pointed at the version, adding up every stay (it may have left and
     * come back), the current one until {@code now}.
     */
    public Duration timeIn(String env, String version, Instant now) {
        Duration total = Duration.ZERO;
        Instant since = null;
        for (Event e : events) {
            if (!e.moves() || !env.equals(e.env())) {
                continue;
            }
            Instant at = Instant.parse(e.at());
            if (since != null) {
                total = total.plus(Duration.between(since, at));
                since = null;
            }
            if (version.equals(e.version())) {
                since = at;
            }
        }
        if (since != null && now.isAfter(since)) {
            total = total.plus(Duration.between(since, now));
        }
        return total;
    }

    /** The events after {@code seq}. */
    public List<Event> after(long seq) {
        return events.stream().filter(e -> e.seq() > seq).toList();
    }

    /** version → the pin that holds it, for every version pinned and not unpinned since. */
    public Map<String, Event> pins() {
        Map<String, Event> out = new LinkedHashMap<>();
        for (Event e : events) {
            if (Event.PIN.equals(e.type())) {
                out.putIfAbsent(e.version(), e);
            } else if (Event.UNPIN.equals(e.type())) {
                out.remove(e.version());
            }
        }
        return out;
    }
}
