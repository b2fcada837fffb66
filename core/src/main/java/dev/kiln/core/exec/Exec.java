package dev.kiln.core.exec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Runs an external tool (mmdebstrap, mksquashfs, sfdisk, qemu...) and fails loudly.
 *
 * <p>Output is merged and streamed line by line to an optional listener (used for progress) while
 * the last lines are kept for the error message. If the calling thread is interrupted (Ctrl-C
 * reaches us as a shutdown/interrupt), the whole process tree is killed so nothing keeps running
 * behind the user's back.
 */
public final class Exec {
    private static final int TAIL_LINES = 40;

    private final List<String> command;
    private Path directory;
    private final Map<String, String> environment = new java.util.LinkedHashMap<>();
    private Consumer<String> lineListener = line -> {};

    private Exec(List<String> command) {
        this.command = List.copyOf(command);
    }

    public static Exec of(String... command) {
        return new Exec(List.of(command));
    }

    public static Exec of(List<String> command) {
        return new Exec(command);
    }

    public Exec in(Path dir) {
        this.directory = dir;
        return this;
    }

    public Exec env(String key, String value) {
        environment.put(key, value);
        return this;
    }

    /** Each output line (stdout and stderr merged) is handed to this listener as it arrives. */
    public Exec onLine(Consumer<String> listener) {
        this.lineListener = listener;
        return this;
    }

    /**
     * Runs to completion; throws {@link ExecException} on a non-zero exit. Returns the full output.
     */
    public String run() throws IOException {
        Result r = runAllowingFailure();
        if (r.exitCode() != 0) {
            throw new ExecException(command, r.exitCode(), r.tail());
        }
        return r.output();
    }

    public Result runAllowingFailure() throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (directory != null) {
            pb.directory(directory.toFile());
        }
        pb.environment().putAll(environment);
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new IOException(
                    "cannot run '"
                            + command.get(0)
                            + "': "
                            + e.getMessage()
                            + " (is it installed? see README, 'Quick start')",
                    e);
        }
        process.getOutputStream().close();
        StringBuilder all = new StringBuilder();
        Deque<String> tail = new ArrayDeque<>();
        try (BufferedReader reader =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                all.append(line).append('\n');
                tail.addLast(line);
                if (tail.size() > TAIL_LINES) {
                    tail.removeFirst();
                }
                lineListener.accept(line);
            }
            int code = process.waitFor();
            return new Result(code, all.toString(), String.join("\n", tail));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while running " + command.get(0));
        } finally {
            if (process.isAlive()) {
                kill(process);
            }
        }
    }

    private static void kill(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public List<String> command() {
        return new ArrayList<>(command);
    }

    public record Result(int exitCode, String output, String tail) {}
}
