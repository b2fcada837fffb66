package dev.kiln.rollout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * What the rollout engine takes from the machine it runs on: the time, sleeping, threads and the
 * durable append of a journal line. kiln serve uses {@link #SYSTEM}; the deterministic simulation
 * plugs in a virtual clock that runs one engine thread at a time in an order drawn from a seed,
 * and tears journal writes where a kill -9 would.
 */
public interface EngineEnv {
    Instant now();

    void sleep(Duration d) throws InterruptedException;

    /** Starts {@code body} on a thread of its own (a rollout's run). */
    void start(String name, Runnable body);

    /** Up to {@code max} threads for the nodes of one batch; shut down by the caller. */
    ExecutorService workers(String name, int max);

    /**
     * Runs {@code tasks} (read-only probes) up to {@code parallel} at a time and returns their
     * futures, all done, in order.
     */
    <T> List<Future<T>> all(String name, int parallel, List<Callable<T>> tasks) throws InterruptedException;

    /** Appends {@code line} to {@code out} and forces it to disk before returning. */
    void append(FileChannel out, byte[] line) throws IOException;

    /** A {@link Clock} on this time (for code that takes one). */
    default Clock clock() {
        EngineEnv env = this;
        return new Clock() {
            @Override
            public java.time.ZoneId getZone() {
                return java.time.ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
                throw new UnsupportedOperationException("the engine's clock is UTC");
            }

            @Override
            public Instant instant() {
                return env.now();
            }
        };
    }

    /** The machine's own clock and threads. */
    EngineEnv SYSTEM = new EngineEnv() {
        @Override
        public Instant now() {
            return Instant.now();
        }

        @Override
        public void sleep(Duration d) throws InterruptedException {
            Thread.sleep(d.toMillis());
        }

        @Override
        public void start(String name, Runnable body) {
            Thread t = new Thread(body, name);
            t.setDaemon(true);
            t.start();
        }

        @Override
        public ExecutorService workers(String name, int max) {
            return Executors.newFixedThreadPool(Math.max(1, max), r -> {
                Thread t = new Thread(r, name);
                t.setDaemon(true);
                return t;
            });
        }

        @Override
        public <T> List<Future<T>> all(String name, int parallel, List<Callable<T>> tasks) throws InterruptedException {
            if (tasks.isEmpty()) {
                return List.of();
            }
            ExecutorService pool = workers(name, Math.min(tasks.size(), parallel));
            try {
                return new ArrayList<>(pool.invokeAll(tasks));
            } finally {
                pool.shutdownNow();
            }
        }

        @Override
        public void append(FileChannel out, byte[] line) throws IOException {
            ByteBuffer buf = ByteBuffer.wrap(line);
            while (buf.hasRemaining()) {
                out.write(buf);
            }
            out.force(false);
        }
    };
}
