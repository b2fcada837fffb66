package dev.kiln.rollout.k8s;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The state of one drain between API calls, and its retry and timeout decisions: which pods still
 * need an eviction, which are leaving, when to try again and when to give up. No I/O and no clock
 * of its own (the caller passes "now"), so every decision is tested without an API server.
 */
final class DrainTracker {
    /** A refused eviction is tried again after this long (kubectl drain waits 5 s as well). */
    static final Duration RETRY = Duration.ofSeconds(5);
    /** Pods leaving are looked for this often. */
    static final Duration POLL = Duration.ofSeconds(1);

    enum Kind {
        /** Evictions are pending: wait, then try them again. */
        RETRY,
        /** All evictions accepted; pods still terminating: wait, then look again. */
        WAIT_GONE,
        DONE,
        TIMED_OUT
    }

    record Step(Kind kind, Duration pause) {}

    private final String node;
    private final Instant deadline;
    /** key -> uid of pods whose eviction was not accepted yet. */
    private final Map<String, String> pending = new LinkedHashMap<>();
    /** key -> uid of pods evicted (or terminating already) and not gone yet. */
    private final Map<String, String> leaving = new LinkedHashMap<>();

    private final List<String> evicted = new ArrayList<>();
    private final Map<String, DrainResult.BlockedPod> refused = new LinkedHashMap<>();

    DrainTracker(String node, Instant deadline, List<Pod> toEvict, List<Pod> terminating) {
        this.node = node;
        this.deadline = deadline;
        toEvict.forEach(p -> pending.put(DrainRules.key(p), p.getMetadata().getUid()));
        terminating.forEach(p -> leaving.put(DrainRules.key(p), p.getMetadata().getUid()));
    }

    /** Pods to send an eviction for now ("namespace/name"). */
    List<String> pending() {
        return List.copyOf(pending.keySet());
    }

    /** The answer to the eviction of {@code pod}; {@code pdbs} and {@code reason} matter for REFUSED. */
    void record(String pod, DrainRules.Outcome outcome, List<String> pdbs, String reason) {
        String uid = pending.get(pod);
        switch (outcome) {
            case EVICTED -> {
                pending.remove(pod);
                refused.remove(pod);
                evicted.add(pod);
                leaving.put(pod, uid);
            }
            case GONE -> {
                pending.remove(pod);
                refused.remove(pod);
            }
            case REFUSED -> refused.put(pod, new DrainResult.BlockedPod(pod, pdbs, reason));
            case ERROR -> throw new IllegalArgumentException("an eviction error stops the drain, it is not recorded");
        }
    }

    /**
     * The pods the node still runs ("namespace/name" -> uid): a leaving pod that is absent, or
     * present under another uid (a new pod of the same name), is gone.
     */
    void present(Map<String, String> podsOnNode) {
        leaving.entrySet()
                .removeIf(e -> e.getValue() == null
                        ? !podsOnNode.containsKey(e.getKey())
                        : !e.getValue().equals(podsOnNode.get(e.getKey())));
    }

    Step next(Instant now) {
        if (pending.isEmpty() && leaving.isEmpty()) {
            return new Step(Kind.DONE, Duration.ZERO);
        }
        Duration left = Duration.between(now, deadline);
        if (left.isNegative() || left.isZero()) {
            return new Step(Kind.TIMED_OUT, Duration.ZERO);
        }
        if (!pending.isEmpty()) {
            return new Step(Kind.RETRY, min(RETRY, left));
        }
        return new Step(Kind.WAIT_GONE, min(POLL, left));
    }

    DrainResult result() {
        List<DrainResult.BlockedPod> blocked = new ArrayList<>();
        for (String p : pending.keySet()) {
            blocked.add(refused.getOrDefault(p, new DrainResult.BlockedPod(p, List.of(), "no eviction attempted")));
        }
        return new DrainResult(
                node, pending.isEmpty() && leaving.isEmpty(), evicted, blocked, List.copyOf(leaving.keySet()));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
