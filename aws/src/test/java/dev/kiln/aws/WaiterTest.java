package dev.kiln.aws;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.progress.Progress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The one wait loop behind snapshots completing and images becoming available (no AWS needed). */
class WaiterTest {
    /** Records the steps opened and whether they failed. */
    final List<String> steps = new ArrayList<>();

    final Progress recording = name -> new Progress.Step() {
        @Override
        public void detail(String text) {}

        @Override
        public void fraction(double done) {}

        @Override
        public void failed() {
            steps.add("failed " + name);
        }

        @Override
        public void close() {
            steps.add("closed " + name);
        }
    };

    @Test
    void returnsWhatThePollFoundAndShowsAStepOnlyWhenItHadToWait() throws Exception {
        Waiter w = new Waiter(Duration.ofMillis(1), Duration.ofMinutes(1), recording);
        assertThat(w.until("x", "wait for x", () -> "ready")).isEqualTo("ready");
        assertThat(steps).isEmpty();

        AtomicInteger looks = new AtomicInteger();
        assertThat(w.until("y", "wait for y", () -> looks.incrementAndGet() < 3 ? null : "now"))
                .isEqualTo("now");
        assertThat(looks).hasValue(3);
        assertThat(steps).containsExactly("closed wait for y");
    }

    @Test
    void givesUpAfterTheTimeoutNamingWhatItWaitedFor() {
        Waiter w = new Waiter(Duration.ofMillis(1), Duration.ofMillis(20), recording);
        assertThatThrownBy(() -> w.until("image ami-1 to become available", "wait for ami-1", () -> null))
                .isInstanceOf(PublishException.class)
                .hasMessage(
                        "gave up waiting for image ami-1 to become available after 20 ms; a re-run picks up from here");
        assertThat(steps).containsExactly("failed wait for ami-1", "closed wait for ami-1");
        assertThat(Waiter.describe(Duration.ofMinutes(90))).isEqualTo("90 min");
        assertThat(Waiter.describe(Duration.ofSeconds(30))).isEqualTo("30 s");
        assertThat(Waiter.describe(Duration.ofSeconds(90))).isEqualTo("90 s");
    }

    @Test
    void aPollThatFailsStopsTheWaitAtOnce() {
        Waiter w = new Waiter(Duration.ofMillis(1), Duration.ofMinutes(1), recording);
        assertThatThrownBy(() -> w.until("snapshot snap-1 to complete", null, () -> {
                    throw new PublishException("snapshot snap-1 failed");
                }))
                .hasMessage("snapshot snap-1 failed");
        assertThat(steps).isEmpty();
    }
}
