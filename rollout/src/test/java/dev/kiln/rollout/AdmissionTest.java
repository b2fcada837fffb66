package dev.kiln.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The budget, on many seeded random schedules of one batch: nodes of a cluster of random size go
 * down outside the rollout and come back at random, replacements end at random, and the run asks
 * Admission at every tick what to start. After every start, serving nodes down (outside plus being
 * replaced) never exceed the budget unless only nodes already down or never serving were started;
 * and every node of the batch is eventually started once the cluster has room. A failing seed is
 * printed with how to replay it: -Dkiln.test.admission.seed=SEED.
 */
class AdmissionTest {
    private static final int SCENARIOS = 2000;

    @Test
    void theBudgetHoldsOnRandomSchedulesAndEveryNodeStartsOnceThereIsRoom() {
        String only = System.getProperty("kiln.test.admission.seed");
        long first = only != null ? Long.parseLong(only) : 1;
        long last = only != null ? first : SCENARIOS;
        for (long seed = first; seed <= last; seed++) {
            try {
                scenario(seed);
            } catch (AssertionError e) {
                throw new AssertionError(
                        "seed " + seed + " broke the budget; replay: mvn -pl rollout verify -Dtest=AdmissionTest"
                                + " -Dkiln.test.admission.seed=" + seed + "\n" + e.getMessage(),
                        e);
            }
        }
    }

    private static void scenario(long seed) {
        Random r = new Random(seed);
        int clusterSize = 1 + r.nextInt(60);
        int budget = 1 + r.nextInt(Math.max(1, clusterSize / 3));
        int batchSize = 1 + r.nextInt(clusterSize);
        List<Admission.Candidate> waiting = new ArrayList<>();
        for (int i = 0; i < batchSize; i++) {
            boolean serving = r.nextInt(10) > 0;
            boolean alreadyDown = serving && r.nextInt(15) == 0;
            waiting.add(new Admission.Candidate(node("n" + i), serving, alreadyDown));
        }
        int outsideNodes = clusterSize - batchSize;
        Set<Integer> downOutside = new HashSet<>();
        List<Admission.Candidate> replacing = new ArrayList<>();
        Set<String> started = new HashSet<>();
        for (int tick = 0; tick < 2000 && (!waiting.isEmpty() || !replacing.isEmpty()); tick++) {
            // The world moves: nodes outside go down or come back; replacements end.
            if (tick == 1500) {
                downOutside.clear(); // the cluster heals: from here on every node must start
            } else if (tick < 1500 && outsideNodes > 0 && r.nextInt(4) == 0) {
                int n = r.nextInt(outsideNodes);
                if (!downOutside.remove(n)) {
                    downOutside.add(n);
                }
            }
            replacing.removeIf(c -> r.nextInt(3) == 0);
            long replacingServing =
                    replacing.stream().filter(Admission.Candidate::serving).count();
            int alreadyDownWaiting = (int)
                    waiting.stream().filter(Admission.Candidate::alreadyDown).count();
            List<Plan.Node> start = Admission.admit(waiting, replacingServing, downOutside.size(), budget);
            List<Admission.Candidate> admitted =
                    waiting.stream().filter(c -> start.contains(c.node())).toList();
            boolean onlyFree = admitted.stream().allMatch(c -> !c.serving() || c.alreadyDown());
            long downAfter = downOutside.size()
                    + replacingServing
                    + admitted.stream().filter(Admission.Candidate::serving).count();
            if (!onlyFree) {
                // Already-down nodes were down before this start too: they are not new damage.
                assertThat(downAfter
                                - admitted.stream()
                                        .filter(Admission.Candidate::alreadyDown)
                                        .count())
                        .as(
                                "tick %d: %d down outside, %d replacing, budget %d, started %s (%d already down waiting)",
                                tick, downOutside.size(), replacingServing, budget, start, alreadyDownWaiting)
                        .isLessThanOrEqualTo(budget);
            }
            for (Admission.Candidate c : admitted) {
                assertThat(started.add(c.node().name()))
                        .as("%s started twice", c.node().name())
                        .isTrue();
                waiting.remove(c);
                replacing.add(new Admission.Candidate(c.node(), c.serving(), false));
            }
        }
        assertThat(waiting)
                .as("nodes never started, with the cluster back to full health")
                .isEmpty();
    }

    private static Plan.Node node(String name) {
        return new Plan.Node(name, null, "worker", null, "a:1", "a:2", null, null);
    }
}
