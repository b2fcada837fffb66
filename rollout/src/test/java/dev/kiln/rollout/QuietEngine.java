package dev.kiln.rollout;

import java.lang.reflect.Field;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the engine's log lines off while the simulation runs thousands of rollouts (a halt is an
 * ERROR line, and halts are what the faults cause); -Dkiln.sim.logs=true keeps them for a replay.
 * slf4j-simple fixes a logger's level when it is made, so the level is set on the loggers.
 */
final class QuietEngine implements AutoCloseable {
    private static final List<Class<?>> ENGINE = List.of(
            RolloutRun.class, NodeSteps.class, BatchRun.class, RolloutController.class, Journal.class, Planner.class);
    private static final int OFF = 50; // slf4j-simple's LOG_LEVEL_OFF
    private static final Map<Logger, Integer> WAS = new LinkedHashMap<>();
    private static int users; // scenarios run in parallel: the last one out restores the levels
    private final boolean quiet;

    private QuietEngine(boolean quiet) {
        this.quiet = quiet;
        if (!quiet) {
            return;
        }
        synchronized (WAS) {
            if (users++ > 0) {
                return;
            }
        }
        for (Class<?> c : ENGINE) {
            Logger l = LoggerFactory.getLogger(c);
            Integer level = level(l, null);
            if (level != null) {
                WAS.put(l, level);
                level(l, OFF);
            }
        }
    }

    static QuietEngine unless(boolean logs) {
        return new QuietEngine(!logs);
    }

    @Override
    public void close() {
        if (!quiet) {
            return;
        }
        synchronized (WAS) {
            if (--users == 0) {
                WAS.forEach(QuietEngine::level);
                WAS.clear();
            }
        }
    }

    /** Reads (set == null) or sets the level; null when the binding is not slf4j-simple. */
    private static Integer level(Logger l, Integer set) {
        try {
            Field f = l.getClass().getDeclaredField("currentLogLevel");
            f.setAccessible(true);
            if (set != null) {
                f.setInt(l, set);
            }
            return f.getInt(l);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }
}
