package dev.kiln.release;

import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.function.Supplier;

/**
 * Why: the append/commit protocol (sequence numbers granted to one writer, conflicts, pointers that
 * never move backwards) is its own concern, apart from what {@link Releases} records and the gates
 * it evaluates.
 */
final class ReleaseHistory {
    private static final int MAX_TRIES = 50;

    /** Reads an image's history again after losing a race. */
    interface Reader {
        Ledger read(String image) throws IOException;
    }

    private final ReleaseStore store;
    private final Reader ledgers;
    private final Supplier<Instant> clock;

    /** @param clock the time of a conflict record, as Releases stamps its events */
    ReleaseHistory(ReleaseStore store, Reader ledgers, Supplier<Instant> clock) {
        this.store = store;
        this.ledgers = ledgers;
        this.clock = clock;
    }

    interface Builder {
        Event build(Ledger ledger) throws IOException, GatesRefusedException;
    }

    /**
     * Appends what {@code builder} makes of the history at the next free sequence number; if
     * another change of {@code env} got there first, records this attempt as a conflict instead.
     */
    Event commit(String image, String env, Ledger ledger, Builder builder)
            throws IOException, GatesRefusedException, PromotionConflictException {
        repairPointers(ledger);
        Ledger seen = ledger;
        for (int i = 0; i < MAX_TRIES; i++) {
            Event e = builder.build(seen).withSeq(seen.lastSeq() + 1);
            if (store.append(image, e.seq(), Releases.bytes(e))) {
                movePointer(e);
                return e;
            }
            Ledger newer = ledgers.read(image);
            Event before = seen.current(env);
            Event now = newer.current(env);
            if (now != null && (before == null || now.seq() != before.seq())) {
                Event attempt = append(
                        image,
                        newer,
                        new Event(
                                Event.SCHEMA,
                                0,
                                e.id(),
                                Event.CONFLICT,
                                image,
                                e.version(),
                                env,
                                e.previousVersion(),
                                e.fromEnv(),
                                e.by(),
                                e.identity(),
                                clock.get().toString(),
                                e.reason(),
                                e.gates(),
                                e.overrides(),
                                e.manifestSha256(),
                                List.of(),
                                now.seq()));
                throw new PromotionConflictException(attempt, now);
            }
            if (newer.lastSeq() == seen.lastSeq()) {
                pause(i); // the store turned a concurrent write away (S3: 409) without recording
                // one: try again
            }
            seen = newer;
        }
        throw new IOException("could not append to the history of "
                + image
                + " in "
                + store.describe()
                + " after "
                + MAX_TRIES
                + " tries: too many concurrent writers");
    }

    /**
     * Appends an event that conflicts with nothing (approval, revocation, a conflict record) at the
     * next free number.
     */
    Event append(String image, Ledger ledger, Event e) throws IOException {
        Ledger seen = ledger;
        for (int i = 0; i < MAX_TRIES; i++) {
            Event numbered = e.withSeq(seen.lastSeq() + 1);
            if (store.append(image, numbered.seq(), Releases.bytes(numbered))) {
                return numbered;
            }
            Ledger newer = ledgers.read(image);
            if (newer.lastSeq() == seen.lastSeq()) {
                pause(i);
            }
            seen = newer;
        }
        throw new IOException("could not append to the history of "
                + image
                + " in "
                + store.describe()
                + " after "
                + MAX_TRIES
                + " tries");
    }

    private void movePointer(Event e) throws IOException {
        byte[] json = Releases.JSON
                .writerWithDefaultPrettyPrinter()
                .writeValueAsBytes(
                        new Releases.Pointer(e.image(), e.env(), e.version(), e.seq(), e.type(), e.at(), e.by()));
        for (int i = 0; i < MAX_TRIES; i++) {
            ReleaseStore.Pointer p = store.pointer(e.image(), e.env());
            if (p != null
                    && Releases.JSON.readValue(p.json(), Releases.Pointer.class).seq() >= e.seq()) {
                return; // a newer change got there: the pointer never moves backwards
            }
            if (store.putPointer(e.image(), e.env(), json, p == null ? null : p.etag())) {
                return;
            }
        }
        throw new IOException("could not move the pointer of " + e.env() + " in " + store.describe());
    }

    /**
     * A writer that died between its event and its pointer left the pointer behind: bring every
     * pointer up to the history.
     */
    private void repairPointers(Ledger ledger) throws IOException {
        for (String env : ledger.environments()) {
            Event cur = ledger.current(env);
            ReleaseStore.Pointer p = store.pointer(ledger.image(), env);
            if (p == null
                    || Releases.JSON.readValue(p.json(), Releases.Pointer.class).seq() < cur.seq()) {
                movePointer(cur);
            }
        }
    }

    private static void pause(int attempt) {
        try {
            Thread.sleep(Math.min(1000, 20L << Math.min(attempt, 5)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
