package dev.kiln.aws;

import dev.kiln.core.progress.Progress;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;

/**
 * Polls something until it is ready (a snapshot completing, an image becoming available): every
 * {@code interval}, for at most {@code timeout}, then a timeout error saying what it waited for.
 */
final class Waiter {
    /** One look: the result when ready, null to look again; throws when it can never be ready. */
    interface Poll<T> {
        T poll() throws IOException;
    }

    private final Duration interval;
    private final Duration timeout;
    private final Progress progress;

    Waiter(Duration interval, Duration timeout, Progress progress) {
        this.interval = interval;
        this.timeout = timeout;
        this.progress = progress;
    }

    /**
     * Polls until {@code poll} returns a result.
     *
     * @param what what it waits for, for the timeout error ("image ami-1 to become available")
     * @param stepName a progress step shown once it has to wait (not when the first look finds it
     *     ready); null when the caller's own step already says it
     */
    <T> T until(String what, String stepName, Poll<T> poll) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Progress.Step step = null;
        try {
            while (true) {
                T done = poll.poll();
                if (done != null) {
                    return done;
                }
                if (step == null && stepName != null) {
                    step = progress.step(stepName);
                }
                if (System.nanoTime() > deadline) {
                    if (step != null) {
                        step.failed();
                    }
                    throw new PublishException("gave up waiting for "
                            + what
                            + " after "
                            + describe(timeout)
                            + "; a re-run picks up from here");
                }
                try {
                    Thread.sleep(interval.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("publish interrupted");
                }
            }
        } finally {
            if (step != null) {
                step.close();
            }
        }
    }

    /** "90 min", "30 s", "200 ms": the largest whole unit (a short timeout is not "0 min"). */
    static String describe(Duration d) {
        if (d.toMinutes() > 0 && d.toSeconds() % 60 == 0) {
            return d.toMinutes() + " min";
        }
        return d.toSeconds() > 0 && d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
