package dev.kiln.rollout;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rollout engine on many seeded fault schedules (see {@link RolloutSimulation}): every
 * invariant holds on each. A failing seed names the invariant, the story and the command that
 * replays it; it then goes into {@link #REGRESSIONS}.
 */
class RolloutSimulationTest {
    /** Seeds that once broke an invariant (see the note on each). */
    static final long[] REGRESSIONS = {};

    @TempDir
    Path tmp;

    @Test
    void invariantsHoldOnFiveHundredFaultSchedules() throws Exception {
        long first = Long.getLong("kiln.sim.seed", 1);
        int n = Integer.getInteger("kiln.sim.scenarios", 500);
        for (long seed = first; seed < first + n; seed++) {
            check(RolloutSimulation.run(seed, tmp));
        }
    }

    @Test
    void seedsThatOnceBrokeAnInvariantHold() throws Exception {
        for (long seed : REGRESSIONS) {
            check(RolloutSimulation.run(seed, tmp));
        }
    }

    private static void check(RolloutSimulation.Result r) {
        if (!r.ok()) {
            fail("seed " + r.seed() + " (" + r.fleet() + ") broke " + r.violation() + "\nreplay: " + r.replay()
                    + "\nwhat happened:\n  " + String.join("\n  ", r.story()));
        }
    }
}
