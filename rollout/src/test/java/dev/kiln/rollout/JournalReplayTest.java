package dev.kiln.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.util.Files2;
import dev.kiln.rollout.JournalView.EventType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * kill -9 of kiln serve at any journal write, on seeded random rollouts: the journal's bytes are cut
 * at a random offset (a torn last line included), read back, and the folded state must be exactly
 * the state after the last whole event; the file is then clean (the next append starts a line of
 * its own) and appending goes on. A failing seed prints how to replay it:
 * -Dkiln.test.journal.seed=SEED.
 */
class JournalReplayTest {
    private static final int SCENARIOS = 300;

    @Test
    void aJournalCutAnywhereReplaysToTheStateOfItsLastWholeEvent() throws Exception {
        String only = System.getProperty("kiln.test.journal.seed");
        long first = only != null ? Long.parseLong(only) : 1;
        long last = only != null ? first : SCENARIOS;
        // tmpfs where there is one: every append is fsynced.
        Path base = Files.isDirectory(Path.of("/dev/shm"))
                ? Path.of("/dev/shm")
                : Path.of(System.getProperty("java.io.tmpdir"));
        Path work = Files.createTempDirectory(base, "kiln-journal-replay");
        try {
            for (long seed = first; seed <= last; seed++) {
                try {
                    scenario(seed, work.resolve("s" + seed));
                } catch (AssertionError | IOException e) {
                    throw new AssertionError(
                            "seed " + seed + ": " + e.getMessage() + "\nreplay: mvn -pl rollout verify"
                                    + " -Dtest=JournalReplayTest -Dkiln.test.journal.seed=" + seed,
                            e);
                }
            }
        } finally {
            Files2.deleteRecursively(work);
        }
    }

    /** What a view shows, in a form that compares whole. */
    record Snapshot(JournalView.Phase phase, String reason, List<JournalView.Node> nodes) {
        static Snapshot of(JournalView v, List<String> names) {
            return new Snapshot(
                    v.phase(), v.reason(), names.stream().map(v::node).toList());
        }
    }

    private static void scenario(long seed, Path dir) throws IOException {
        Random r = new Random(seed);
        Files.createDirectories(dir);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 1 + r.nextInt(6); i++) {
            names.add("n" + i);
        }
        Journal live = Journal.open(dir, EngineEnv.SYSTEM);
        List<Snapshot> after = new ArrayList<>(); // after.get(k): the state after k whole events
        List<Long> ends = new ArrayList<>(); // ends.get(k): the file's length after k events
        after.add(Snapshot.of(live.view(), names));
        ends.add(0L);
        live.append(EventType.CREATED, null, null, "seed " + seed);
        record(live, names, after, ends, dir);
        int events = 5 + r.nextInt(40);
        for (int i = 0; i < events; i++) {
            randomEvent(r, live, names);
            record(live, names, after, ends, dir);
        }
        live.close();
        Path file = dir.resolve(Journal.EVENTS);
        byte[] whole = Files.readAllBytes(file);
        for (int cut = 0; cut < 6; cut++) {
            int at = r.nextInt(whole.length + 1);
            Path copy = Files.createDirectories(dir.resolve("cut" + cut));
            Files.write(copy.resolve(Journal.EVENTS), java.util.Arrays.copyOf(whole, at));
            // An event is whole once its JSON is: its newline may be what the cut took.
            int k = 0;
            while (k + 1 < ends.size() && ends.get(k + 1) - 1 <= at) {
                k++;
            }
            Journal back = Journal.open(copy, EngineEnv.SYSTEM);
            assertThat(Snapshot.of(back.view(), names))
                    .as("cut at byte %d of %d (after %d whole events)", at, whole.length, k)
                    .isEqualTo(after.get(k));
            assertThat(back.events()).hasSize(k);
            assertThat(Files.size(copy.resolve(Journal.EVENTS)))
                    .as("the torn line is gone")
                    .isEqualTo(ends.get(k));
            back.append(EventType.RESTARTED, null, null, "after the cut");
            back.close();
            Journal again = Journal.open(copy, EngineEnv.SYSTEM);
            assertThat(again.events()).hasSize(k + 1);
            assertThat(again.view().phase()).isEqualTo(JournalView.Phase.RUNNING);
            again.close();
        }
    }

    private static void record(Journal j, List<String> names, List<Snapshot> after, List<Long> ends, Path dir)
            throws IOException {
        after.add(Snapshot.of(j.view(), names));
        ends.add(Files.size(dir.resolve(Journal.EVENTS)));
    }

    /** A plausible next event: a node step begun or ended, a node outcome, or an operator's word. */
    private static void randomEvent(Random r, Journal j, List<String> names) throws IOException {
        String node = names.get(r.nextInt(names.size()));
        String step = Step.FORWARD.get(r.nextInt(Step.FORWARD.size())).wire;
        switch (r.nextInt(12)) {
            case 0, 1, 2 -> j.append(EventType.BEGIN, node, step, null);
            case 3, 4 -> j.append(EventType.END, node, step, "ok: " + r.nextInt(1000) + " \"quoted\" é");
            case 5 -> j.append(EventType.NODE_DONE, node, null, "on b");
            case 6 -> j.append(EventType.NODE_FAILED, node, step, "failed " + r.nextInt(100));
            case 7 -> j.append(EventType.NODE_RETRIED, node, null, "by kiln rollout resume");
            case 8 -> j.append(EventType.MILESTONE, node, "booted", null);
            case 9 -> j.append(EventType.PAUSED, null, null, "by the operator");
            case 10 -> j.append(EventType.HALTED, null, null, "halted " + r.nextInt(100));
            default -> j.append(EventType.RESUMED, null, null, "by the operator");
        }
    }
}
