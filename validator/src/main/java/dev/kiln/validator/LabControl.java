package dev.kiln.validator;

import dev.kiln.core.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * kiln lab's other processes: reading a running lab's lab.json, and taking a lab down (its own
 * process tears everything down on SIGTERM; what a killed lab left is found by its run label).
 */
public final class LabControl {
    private LabControl() {}

    /** The lab in {@code dir}, or empty when there is none. */
    public static Optional<Lab.State> read(Path dir) throws IOException {
        try {
            return Optional.of(Json.MAPPER.readValue(Files.readString(dir.resolve(Lab.STATE)), Lab.State.class));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /** As {@link #read}, empty also when it cannot be read. */
    public static Optional<Lab.State> readQuietly(Path dir) {
        try {
            return read(dir);
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    public static boolean isLive(Lab.State s) {
        return RunLabel.isLive(s.runId());
    }

    /**
     * Stops the lab in {@code dir}: SIGTERM to its process (which removes everything), SIGKILL
     * after {@code grace} seconds; then removes whatever its run left (as --cleanup would) and the
     * lab directory's files. Returns false when there was no lab.
     */
    public static boolean down(Path dir, Path tmpRoot, Consumer<String> out) throws IOException, InterruptedException {
        Optional<Lab.State> state = read(dir);
        if (state.isEmpty()) {
            return false;
        }
        Optional<ProcessHandle> p = ProcessHandle.of(state.get().pid());
        if (p.isPresent() && isLive(state.get())) {
            out.accept("stopping lab " + state.get().runId() + " (pid "
                    + state.get().pid() + ")");
            p.get().destroy();
            try {
                p.get().onExit().get(60, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                out.accept("lab process " + state.get().pid() + " did not stop within 60 s; killing it");
                p.get().destroyForcibly();
                waitQuietly(p.get());
            }
        }
        // Whatever a killed lab process left, and only that: other runs are not this command's.
        String id = state.get().runId();
        Providers.cleanupStale(tmpRoot, run -> !run.equals(id) || RunLabel.isLive(run), out);
        Lab.removeLabFiles(dir);
        out.accept("lab " + state.get().runId() + " is down");
        return true;
    }

    private static void waitQuietly(ProcessHandle p) throws InterruptedException {
        try {
            p.onExit().get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // reported by the leftovers cleanup
        }
    }
}
