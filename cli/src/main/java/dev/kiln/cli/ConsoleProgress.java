package dev.kiln.cli;

import dev.kiln.core.progress.Progress;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Step lines with durations. On a terminal a live status line shows the running step's elapsed
 * time, a bar when its share done is known, and its latest detail; elsewhere (CI logs) a heartbeat
 * line every 15 s says what is still running.
 */
final class ConsoleProgress implements Progress {
    private final PrintStream out;
    private final boolean tty;
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kiln-progress");
        t.setDaemon(true);
        return t;
    });
    private int stepNo;
    /** Steps running now, oldest first; several when a build writes its artifacts side by side. */
    private final java.util.List<ConsoleStep> open = new java.util.ArrayList<>();

    ConsoleProgress(PrintStream out, boolean tty) {
        this.out = out;
        this.tty = tty;
    }

    @Override
    public Step step(String name) {
        int no;
        synchronized (out) {
            no = ++stepNo;
        }
        return new ConsoleStep(no, name);
    }

    private final class ConsoleStep implements Step {
        private final String name;
        private final String label;
        private final long start = System.nanoTime();
        private final ScheduledFuture<?> tick;
        private volatile String detail = "";
        private volatile double fraction = -1;
        private volatile boolean failed;
        private long lastBeat = System.nanoTime();

        ConsoleStep(int no, String name) {
            this.name = name;
            this.label = String.format(Locale.ROOT, "[%d] ", no);
            synchronized (out) {
                open.add(this);
                if (!tty) {
                    out.println(label + name + " ...");
                }
            }
            tick = ticker.scheduleAtFixedRate(this::render, 200, 200, TimeUnit.MILLISECONDS);
        }

        private double elapsed() {
            return (System.nanoTime() - start) / 1e9;
        }

        private void render() {
            synchronized (out) {
                if (tty) {
                    // One live line: the newest running step's, saying how many more run beside it.
                    if (open.isEmpty() || open.get(open.size() - 1) != this) {
                        return;
                    }
                    StringBuilder sb = new StringBuilder("\r\033[K")
                            .append(label)
                            .append(name)
                            .append(open.size() > 1 ? " (+" + (open.size() - 1) + " running)" : "")
                            .append(String.format(Locale.ROOT, " %5.1fs ", elapsed()));
                    if (fraction >= 0) {
                        int filled = (int) Math.round(Math.min(1, fraction) * 20);
                        sb.append('[')
                                .append("#".repeat(filled))
                                .append(".".repeat(20 - filled))
                                .append("] ")
                                .append(String.format(Locale.ROOT, "%3d%% ", (int) (fraction * 100)));
                    }
                    String d = detail;
                    int room = 150 - sb.length();
                    if (room > 10 && !d.isEmpty()) {
                        sb.append(d.length() > room ? d.substring(0, room) : d);
                    }
                    out.print(sb);
                    out.flush();
                } else if (System.nanoTime() - lastBeat > 15_000_000_000L) {
                    lastBeat = System.nanoTime();
                    out.println(String.format(
                            Locale.ROOT,
                            "    ... %.0fs%s%s",
                            elapsed(),
                            fraction >= 0 ? String.format(Locale.ROOT, " %d%%", (int) (fraction * 100)) : "",
                            detail.isEmpty() ? "" : " " + detail));
                }
            }
        }

        @Override
        public void detail(String text) {
            detail = text.replaceAll("\\p{Cntrl}", " ").trim();
        }

        @Override
        public void fraction(double done) {
            fraction = done;
        }

        @Override
        public void failed() {
            failed = true;
        }

        @Override
        public void close() {
            tick.cancel(false);
            synchronized (out) {
                open.remove(this);
                if (tty) {
                    out.print("\r\033[K");
                }
                out.println(String.format(
                        Locale.ROOT, "%s%s %s (%.1fs)", label, failed ? "FAILED" : "done  ", name, elapsed()));
                out.flush();
            }
        }
    }
}
