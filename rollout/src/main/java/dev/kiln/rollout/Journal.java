package dev.kiln.rollout;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.kiln.core.json.Json;
import dev.kiln.fleet.StateDir;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A rollout's record in kiln serve's state: {@code rollouts/ID/plan.json} (written once, by atomic
 * rename) and {@code rollouts/ID/journal.jsonl}, one event per line. An intent ("begin power w1")
 * is appended and fsynced before it is acted on, its outcome after; so after a crash the journal
 * says exactly which actions may have happened, and the controller re-probes only those.
 */
public final class Journal {
    private static final Logger LOG = LoggerFactory.getLogger(Journal.class);
    static final String DIR = "rollouts";
    static final String PLAN = "plan.json";
    static final String EVENTS = "journal.jsonl";

    /**
     * @param type created, begin, end, node-done, node-failed, node-skipped, node-rolled-back,
     *     paused, resumed, halted, aborted, done, restarted
     * @param step for begin/end: preflight, drain, repoint, power, confirm (rollback-... when a
     *     failed node is being taken back)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Event(long seq, String at, String type, String node, String step, String detail) {}

    private final Path dir;
    private final List<Event> events = new ArrayList<>();
    private final JournalView view = new JournalView();
    private final EngineEnv env;
    private FileChannel out;

    private Journal(Path dir, EngineEnv env) {
        this.dir = dir;
        this.env = env;
    }

    static Path root(StateDir state) {
        return state.dir().resolve(DIR);
    }

    /** A new rollout's directory with its plan; fails if the id is taken. */
    static Journal create(StateDir state, String id, Plan plan, EngineEnv env) throws IOException {
        Path dir = root(state).resolve(id);
        Files.createDirectories(dir.getParent());
        Files.createDirectory(dir);
        Path tmp = dir.resolve(".plan.json.tmp");
        Files.write(tmp, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(plan));
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            c.force(true);
        }
        Files.move(tmp, dir.resolve(PLAN), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return new Journal(dir, env);
    }

    /** An existing rollout's journal, read back; a torn last line (a crash mid-write) is dropped. */
    static Journal open(Path dir, EngineEnv env) throws IOException {
        Journal j = new Journal(dir, env);
        Path file = dir.resolve(EVENTS);
        if (Files.exists(file)) {
            byte[] bytes = Files.readAllBytes(file);
            // Lines as bytes: a cut may fall inside a multi-byte character of the last one.
            List<byte[]> lines = new ArrayList<>();
            int from = 0;
            for (int i = 0; i <= bytes.length; i++) {
                if (i == bytes.length || bytes[i] == '\n') {
                    if (i > from) {
                        lines.add(java.util.Arrays.copyOfRange(bytes, from, i));
                    }
                    from = i + 1;
                }
            }
            for (int i = 0; i < lines.size(); i++) {
                Event event;
                try {
                    String line = StandardCharsets.UTF_8
                            .newDecoder()
                            .decode(java.nio.ByteBuffer.wrap(lines.get(i)))
                            .toString();
                    if (line.isBlank()) {
                        continue;
                    }
                    event = Json.MAPPER.readValue(line, Event.class);
                } catch (IOException e) {
                    if (i == lines.size() - 1) {
                        LOG.warn("{}: dropping a torn last line (kiln serve stopped while writing it)", file);
                        break;
                    }
                    throw new IOException(file + " line " + (i + 1) + ": not a journal event: " + e.getMessage(), e);
                }
                try {
                    j.view.apply(event);
                } catch (IllegalArgumentException e) {
                    throw new IOException(file + " line " + (i + 1) + ": " + e.getMessage(), e);
                }
                j.events.add(event);
            }
            // A torn line goes; so does a missing last newline (a line cut just before it is a
            // whole event, but the next append must not run on into it).
            boolean unterminated = bytes.length > 0 && bytes[bytes.length - 1] != '\n';
            if (j.events.size() < lines.size() || unterminated) {
                j.rewrite(file);
            }
        }
        return j;
    }

    /**
     * Replaces the file with the events read (no torn line), so appends start on a clean line: a
     * temp file, fsynced, renamed over the journal, the directory fsynced. A crash at any point
     * leaves either the old file (torn line and all, dropped again at the next open) or the new.
     */
    private void rewrite(Path file) throws IOException {
        Path tmp = dir.resolve("." + EVENTS + ".tmp");
        StringBuilder clean = new StringBuilder();
        for (Event e : events) {
            clean.append(Json.COMPACT.writeValueAsString(e)).append('\n');
        }
        try (FileChannel c = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(clean.toString().getBytes(StandardCharsets.UTF_8));
            while (buf.hasRemaining()) {
                c.write(buf);
            }
            c.force(true);
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            LOG.debug("fsync of {}: {}", dir, e.toString()); // not every file system syncs a directory
        }
    }

    Plan plan() throws IOException {
        return Json.MAPPER.readValue(dir.resolve(PLAN).toFile(), Plan.class);
    }

    String id() {
        return dir.getFileName().toString();
    }

    Path dir() {
        return dir;
    }

    synchronized List<Event> events() {
        return List.copyOf(events);
    }

    /** The events folded: the rollout's phase and each node's progress, current after each append. */
    JournalView view() {
        return view;
    }

    /**
     * Appends an event and forces it to disk before returning. The file is opened at the first
     * append after {@link #close}: a finished rollout is still written to when it is rolled back.
     */
    synchronized Event append(JournalView.EventType type, String node, String step, String detail) throws IOException {
        if (out == null) {
            out = FileChannel.open(
                    dir.resolve(EVENTS),
                    StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND);
        }
        Event e = new Event(events.size() + 1L, env.now().toString(), type.wire, node, step, detail);
        env.append(out, (Json.COMPACT.writeValueAsString(e) + "\n").getBytes(StandardCharsets.UTF_8));
        events.add(e);
        view.apply(e);
        return e;
    }

    /** Releases the file until the next append. */
    synchronized void close() {
        try {
            if (out != null) {
                out.close();
            }
        } catch (IOException e) {
            LOG.warn("closing {}: {}", dir.resolve(EVENTS), e.toString());
        }
        out = null;
    }
}
