package dev.kiln.release;

import dev.kiln.core.store.ChannelRef;
import dev.kiln.core.store.ChannelResolver;
import dev.kiln.core.store.ImageRef;
import java.io.IOException;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;

/** kiln serve's view of the promotion records: what each environment points at, what is revoked. */
public final class ReleaseChannels implements ChannelResolver {
    private final Releases releases;

    public ReleaseChannels(ReleaseStore store) {
        this.releases =
                new Releases(store, java.time.Clock.systemUTC(), new Identity("kiln-serve", "kiln serve"), null);
    }

    @Override
    public State read(Collection<String> imageNames) throws IOException {
        Map<ChannelRef, Assignment> channels = new LinkedHashMap<>();
        Map<ImageRef, String> revoked = new LinkedHashMap<>();
        for (String name : new LinkedHashSet<>(imageNames)) {
            Ledger ledger = releases.ledger(name);
            for (String env : ledger.environments()) {
                Event cur = ledger.current(env);
                channels.put(
                        new ChannelRef(name, env),
                        new Assignment(new ImageRef(name, cur.version()), cur.at(), cur.by()));
            }
            ledger.revocations()
                    .forEach((version, e) -> revoked.put(
                            new ImageRef(name, version), "revoked by " + e.by() + " at " + e.at() + ": " + e.reason()));
        }
        return new State(Map.copyOf(channels), Map.copyOf(revoked));
    }

    @Override
    public String describe() {
        return "the promotion records of " + releases.store().describe();
    }
}
