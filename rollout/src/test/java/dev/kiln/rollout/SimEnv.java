package dev.kiln.rollout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The engine's environment in the deterministic simulation: a virtual clock, and threads that run
 * one at a time. Every engine thread is a real thread, but it only runs while it holds the baton;
 * it gives the baton back when it sleeps or ends, and the next to run is the earliest wake-up, ties
 * broken by the seed. Time jumps to that wake-up: a day of rollout takes milliseconds, and the
 * same seed gives the same interleaving, the same journal and the same verdict.
 *
 * <p>A kill -9 of kiln serve happens at a chosen journal write: the line is cut at a drawn length
 * and every thread of that kiln serve incarnation dies where it next gives back the baton.
 */
final class SimEnv implements EngineEnv {
    /** Thrown into the threads of a killed kiln serve; an Error, so the engine's catches let it pass. */
    static final class Killed extends Error {
        Killed() {
            super("kiln serve was killed (simulated kill -9)", null, false, false);
        }
    }

    private final class Task {
        final String name;
        final int generation; // the kiln serve incarnation it belongs to; -1: the world's
        final Semaphore go = new Semaphore(0);
        volatile boolean interrupted;
        Wake wake;

        Task(String name, int generation) {
            this.name = name;
            this.generation = generation;
        }

        boolean dead() {
            return generation >= 0 && generation != SimEnv.this.generation;
        }
    }

    private record Wake(Instant at, long tie, Task task) {}

    private final Random random;
    private final Object lock = new Object();
    private final PriorityQueue<Wake> queue =
            new PriorityQueue<>(Comparator.comparing(Wake::at).thenComparingLong(Wake::tie));
    private final ThreadLocal<Task> current = new ThreadLocal<>();
    private final Semaphore idle = new Semaphore(0);
    private volatile Instant now = Instant.parse("2026-01-05T09:00:00Z");
    private volatile int generation;
    private volatile Throwable failure;
    private int journalWrites;
    private int killAtWrite = -1;
    private int kills;
    private long wakeups;
    private Consumer<String> onJournalLine = l -> {};

    SimEnv(Random random) {
        this.random = random;
    }

    // ---- the engine's side ------------------------------------------------------------------

    @Override
    public Instant now() {
        return now;
    }

    @Override
    public void sleep(Duration d) throws InterruptedException {
        Task me = current.get();
        if (me == null) {
            throw new IllegalStateException("sleep outside a simulated thread");
        }
        synchronized (lock) {
            if (me.dead()) {
                throw new Killed();
            }
            if (me.interrupted) {
                me.interrupted = false;
                throw new InterruptedException();
            }
            me.wake = new Wake(now.plus(d), random.nextLong(), me);
            queue.add(me.wake);
        }
        passOn();
        me.go.acquireUninterruptibly();
        if (me.dead()) {
            throw new Killed();
        }
        if (me.interrupted) {
            me.interrupted = false;
            throw new InterruptedException();
        }
    }

    @Override
    public void start(String name, Runnable body) {
        spawn(name, generation, body);
    }

    /** A thread of the simulated world (machines, the operator): never killed with kiln serve. */
    void startWorld(String name, Runnable body) {
        spawn(name, -1, body);
    }

    @Override
    public ExecutorService workers(String name, int max) {
        int gen = generation;
        List<Task> mine = new ArrayList<>();
        return new AbstractExecutorService() {
            private volatile boolean shut;

            @Override
            public void execute(Runnable command) {
                if (shut) {
                    throw new java.util.concurrent.RejectedExecutionException(name + " is shut down");
                }
                synchronized (mine) {
                    mine.add(spawn(name, gen, command));
                }
            }

            @Override
            public void shutdown() {
                shut = true;
            }

            @Override
            public List<Runnable> shutdownNow() {
                shut = true;
                synchronized (mine) {
                    mine.forEach(SimEnv.this::interrupt);
                }
                return List.of();
            }

            @Override
            public boolean isShutdown() {
                return shut;
            }

            @Override
            public boolean isTerminated() {
                return shut;
            }

            @Override
            public boolean awaitTermination(long timeout, TimeUnit unit) {
                return true;
            }
        };
    }

    /** Probes run one after another in the caller: the order is the plan's, so it is deterministic. */
    @Override
    public <T> List<Future<T>> all(String name, int parallel, List<Callable<T>> tasks) {
        List<Future<T>> out = new ArrayList<>();
        for (Callable<T> t : tasks) {
            FutureTask<T> f = new FutureTask<>(t);
            f.run();
            out.add(f);
        }
        return out;
    }

    @Override
    public void append(FileChannel out, byte[] line) throws IOException {
        Task me = current.get();
        if (me != null && me.dead()) {
            throw new Killed();
        }
        int n = journalWrites++;
        if (n == killAtWrite) {
            // kill -9 mid-write: some prefix of the line reached the disk, maybe all of it.
            int cut = random.nextInt(line.length + 1);
            write(out, java.util.Arrays.copyOf(line, cut));
            kill();
            throw new Killed();
        }
        write(out, line);
        onJournalLine.accept(new String(line, java.nio.charset.StandardCharsets.UTF_8));
    }

    private static void write(FileChannel out, byte[] bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
            out.write(buf);
        }
    }

    // ---- the harness's side -----------------------------------------------------------------

    /** Called with each whole journal line written. */
    void onJournalLine(Consumer<String> listener) {
        this.onJournalLine = listener;
    }

    /** Kills kiln serve at the {@code n}th journal write from now (0: the next), or never (-1). */
    void killAtJournalWrite(int n) {
        killAtWrite = n < 0 ? -1 : journalWrites + n;
    }

    /** The journal writes so far (for the fault plan). */
    int journalWrites() {
        return journalWrites;
    }

    /** kill -9 of kiln serve: its threads die where they stand; the world's go on. */
    void kill() {
        synchronized (lock) {
            generation++;
            kills++;
            // Dead threads unwind at once, not at their wake-up time.
            List<Wake> dead = queue.stream().filter(w -> w.task().dead()).toList();
            queue.removeAll(dead);
            dead.forEach(w -> queue.add(new Wake(now, w.tie(), w.task())));
        }
    }

    int kills() {
        return kills;
    }

    long wakeups() {
        return wakeups;
    }

    /**
     * Runs {@code body} as the first world thread and returns when no thread is left. Fails when a
     * simulated thread threw something the engine did not handle, or when the threads stop handing
     * on the baton (a real lock held across a sleep: a defect of the harness or the engine).
     */
    void run(Runnable body) throws InterruptedException {
        startWorld("scenario", body);
        passOn();
        if (!idle.tryAcquire(120, TimeUnit.SECONDS)) {
            throw new IllegalStateException("simulation stuck at " + now + ": a thread blocked outside the clock");
        }
        if (failure != null) {
            throw new IllegalStateException("a simulated thread failed: " + failure, failure);
        }
    }

    private Task spawn(String name, int gen, Runnable body) {
        Task t = new Task(name, gen);
        Thread thread = new Thread(
                () -> {
                    t.go.acquireUninterruptibly();
                    current.set(t);
                    try {
                        if (!t.dead()) {
                            body.run();
                        }
                    } catch (Killed k) {
                        // the kiln serve it belonged to died
                    } catch (Throwable e) {
                        if (failure == null) {
                            failure = e;
                        }
                    } finally {
                        passOn();
                    }
                },
                "sim-" + name);
        thread.setDaemon(true);
        synchronized (lock) {
            t.wake = new Wake(now, random.nextLong(), t);
            queue.add(t.wake);
        }
        thread.start();
        return t;
    }

    private void interrupt(Task t) {
        synchronized (lock) {
            t.interrupted = true;
            if (t.wake != null && queue.remove(t.wake)) {
                t.wake = new Wake(now, t.wake.tie(), t);
                queue.add(t.wake);
            }
        }
    }

    /** Hands the baton to the earliest wake-up, moving the clock to it; or signals that all ended. */
    private void passOn() {
        Wake next;
        synchronized (lock) {
            next = queue.poll();
            if (next == null) {
                idle.release();
                return;
            }
            wakeups++;
            if (next.at().isAfter(now)) {
                now = next.at();
            }
            next.task().wake = null;
        }
        next.task().go.release();
    }
}
