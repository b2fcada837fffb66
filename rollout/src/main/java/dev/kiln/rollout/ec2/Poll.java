package dev.kiln.rollout.ec2;

import java.io.IOException;
import java.time.Duration;

/** Looks again every interval until something holds, or gives up after the timeout saying what. */
record Poll(Duration interval, Duration timeout) {
    interface Look<T> {
        /** The result when done, null to look again. */
        T look() throws IOException;
    }

    <T> T until(String what, Look<T> look) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            T done = look.look();
            if (done != null) {
                return done;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("gave up waiting for " + what + " after " + timeout.toSeconds() + " s");
            }
            Thread.sleep(interval.toMillis());
        }
    }
}
