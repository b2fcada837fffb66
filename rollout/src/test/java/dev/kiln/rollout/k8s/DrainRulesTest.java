package dev.kiln.rollout.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which pods a drain evicts, which budget holds a pod, and when the drain retries or gives up. */
class DrainRulesTest {

    static Pod pod(String ns, String name, String ownerKind, Map<String, String> labels) {
        PodBuilder b = new PodBuilder()
                .withNewMetadata()
                .withNamespace(ns)
                .withName(name)
                .withUid("uid-" + name)
                .withLabels(labels)
                .endMetadata()
                .withNewSpec()
                .withNodeName("w1")
                .endSpec();
        if (ownerKind != null) {
            b.editMetadata()
                    .addNewOwnerReference()
                    .withKind(ownerKind)
                    .withName(name + "-owner")
                    .withController(true)
                    .endOwnerReference()
                    .endMetadata();
        }
        return b.build();
    }

    @Test
    void aDrainEvictsAllButDaemonSetAndMirrorPods() {
        Pod web = pod("shop", "web-7d9f-abcde", "ReplicaSet", Map.of("app", "web"));
        Pod db = pod("shop", "db-0", "StatefulSet", Map.of("app", "db"));
        Pod bare = pod("default", "debug", null, Map.of());
        Pod job = pod("batch", "report-x1", "Job", Map.of());
        Pod proxy = pod("kube-system", "kube-proxy-q8x2v", "DaemonSet", Map.of());
        // A static pod's API copy: owned by the Node, annotated by the kubelet.
        Pod apiserver = new PodBuilder(pod("kube-system", "kube-apiserver-m1", "Node", Map.of()))
                .editMetadata()
                .addToAnnotations(DrainRules.MIRROR_ANNOTATION, "3c1e2b")
                .endMetadata()
                .build();
        Pod leaving = new PodBuilder(pod("shop", "web-7d9f-zzzzz", "ReplicaSet", Map.of("app", "web")))
                .editMetadata()
                .withDeletionTimestamp("2026-01-01T00:00:00Z")
                .endMetadata()
                .build();
        // Owned by a DaemonSet but not as its controller: an ordinary pod.
        Pod adopted = new PodBuilder(pod("shop", "sidecar", null, Map.of()))
                .editMetadata()
                .addNewOwnerReference()
                .withKind("DaemonSet")
                .withName("x")
                .withController(false)
                .endOwnerReference()
                .endMetadata()
                .build();
        List<Pod> all = List.of(web, db, bare, job, proxy, apiserver, leaving, adopted);

        assertThat(DrainRules.toEvict(all))
                .extracting(DrainRules::key)
                .containsExactly(
                        "shop/web-7d9f-abcde", "shop/db-0", "default/debug", "batch/report-x1", "shop/sidecar");
        assertThat(DrainRules.terminating(all)).extracting(DrainRules::key).containsExactly("shop/web-7d9f-zzzzz");
    }

    static PodDisruptionBudget pdb(String ns, String name, Map<String, String> matchLabels) {
        return new PodDisruptionBudgetBuilder()
                .withNewMetadata()
                .withNamespace(ns)
                .withName(name)
                .endMetadata()
                .withNewSpec()
                .withNewSelector()
                .withMatchLabels(matchLabels)
                .endSelector()
                .withMinAvailable(new io.fabric8.kubernetes.api.model.IntOrString(1))
                .endSpec()
                .build();
    }

    @Test
    void theBudgetsThatSelectAPod() {
        Pod web = pod("shop", "web-1", "ReplicaSet", Map.of("app", "web", "tier", "front"));
        PodDisruptionBudget byApp = pdb("shop", "web-pdb", Map.of("app", "web"));
        PodDisruptionBudget otherApp = pdb("shop", "db-pdb", Map.of("app", "db"));
        PodDisruptionBudget otherNs = pdb("staging", "web-pdb", Map.of("app", "web"));
        PodDisruptionBudget everything = pdb("shop", "all", Map.of()); // empty selector: every pod of the namespace
        PodDisruptionBudget none = new PodDisruptionBudgetBuilder(byApp)
                .editMetadata()
                .withName("no-selector")
                .endMetadata()
                .editSpec()
                .withSelector(null)
                .endSpec()
                .build();
        PodDisruptionBudget expressions = new PodDisruptionBudgetBuilder(pdb("shop", "expr", Map.of()))
                .editSpec()
                .editSelector()
                .addNewMatchExpression()
                .withKey("tier")
                .withOperator("In")
                .withValues("front", "edge")
                .endMatchExpression()
                .addNewMatchExpression()
                .withKey("canary")
                .withOperator("DoesNotExist")
                .endMatchExpression()
                .endSelector()
                .endSpec()
                .build();
        PodDisruptionBudget notIn = new PodDisruptionBudgetBuilder(pdb("shop", "not-front", Map.of()))
                .editSpec()
                .editSelector()
                .addNewMatchExpression()
                .withKey("tier")
                .withOperator("NotIn")
                .withValues("front")
                .endMatchExpression()
                .endSelector()
                .endSpec()
                .build();

        assertThat(DrainRules.budgetsFor(web, List.of(byApp, otherApp, otherNs, everything, none, expressions, notIn)))
                .containsExactly("shop/web-pdb", "shop/all", "shop/expr");
    }

    @Test
    void evictionAnswers() {
        assertThat(DrainRules.outcome(201)).isEqualTo(DrainRules.Outcome.EVICTED);
        assertThat(DrainRules.outcome(200)).isEqualTo(DrainRules.Outcome.EVICTED);
        assertThat(DrainRules.outcome(404)).isEqualTo(DrainRules.Outcome.GONE);
        assertThat(DrainRules.outcome(429)).isEqualTo(DrainRules.Outcome.REFUSED);
        assertThat(DrainRules.outcome(500)).isEqualTo(DrainRules.Outcome.REFUSED);
        assertThat(DrainRules.outcome(403)).isEqualTo(DrainRules.Outcome.ERROR);
        assertThat(DrainRules.outcome(0)).isEqualTo(DrainRules.Outcome.ERROR);
    }

    @Test
    void refusedEvictionsAreRetriedUntilTheTimeoutThenNamedWithTheirBudget() {
        Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
        Pod web = pod("shop", "web-1", "ReplicaSet", Map.of());
        Pod db = pod("shop", "db-0", "StatefulSet", Map.of());
        DrainTracker t = new DrainTracker("w1", t0.plus(Duration.ofSeconds(12)), List.of(web, db), List.of());
        assertThat(t.pending()).containsExactly("shop/web-1", "shop/db-0");

        t.record("shop/web-1", DrainRules.Outcome.EVICTED, List.of(), "");
        t.record("shop/db-0", DrainRules.Outcome.REFUSED, List.of("shop/db-pdb"), DrainRules.refusal(429));
        t.present(Map.of("shop/web-1", "uid-web-1", "shop/db-0", "uid-db-0"));
        // A refusal waits RETRY before the next try; only the refused pod is tried again.
        assertThat(t.next(t0)).isEqualTo(new DrainTracker.Step(DrainTracker.Kind.RETRY, DrainTracker.RETRY));
        assertThat(t.pending()).containsExactly("shop/db-0");

        t.record("shop/db-0", DrainRules.Outcome.REFUSED, List.of("shop/db-pdb"), DrainRules.refusal(429));
        t.present(Map.of("shop/db-0", "uid-db-0")); // web-1 is gone now
        // Less than RETRY left: wait only until the deadline.
        assertThat(t.next(t0.plus(Duration.ofSeconds(10))))
                .isEqualTo(new DrainTracker.Step(DrainTracker.Kind.RETRY, Duration.ofSeconds(2)));
        assertThat(t.next(t0.plus(Duration.ofSeconds(12))).kind()).isEqualTo(DrainTracker.Kind.TIMED_OUT);

        DrainResult r = t.result();
        assertThat(r.drained()).isFalse();
        assertThat(r.evicted()).containsExactly("shop/web-1");
        assertThat(r.terminating()).isEmpty();
        assertThat(r.blocked()).singleElement().satisfies(b -> {
            assertThat(b.pod()).isEqualTo("shop/db-0");
            assertThat(b.pdbs()).containsExactly("shop/db-pdb");
        });
        assertThat(r.summary())
                .isEqualTo("node w1 not drained: shop/db-0 blocked by PodDisruptionBudget shop/db-pdb"
                        + " (HTTP 429: evicting it would violate its disruption budget)");
    }

    @Test
    void aDrainEndsWhenEveryEvictedPodIsGone() {
        Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
        Pod web = pod("shop", "web-1", "ReplicaSet", Map.of());
        Pod old = pod("shop", "web-0", "ReplicaSet", Map.of());
        Pod gone = pod("shop", "web-2", "ReplicaSet", Map.of());
        DrainTracker t = new DrainTracker("w1", t0.plus(Duration.ofMinutes(5)), List.of(web, gone), List.of(old));
        t.record("shop/web-1", DrainRules.Outcome.EVICTED, List.of(), "");
        t.record("shop/web-2", DrainRules.Outcome.GONE, List.of(), "");
        t.present(Map.of("shop/web-1", "uid-web-1", "shop/web-0", "uid-web-0"));
        assertThat(t.next(t0)).isEqualTo(new DrainTracker.Step(DrainTracker.Kind.WAIT_GONE, DrainTracker.POLL));
        // web-1 is back under the same name but another uid: the evicted one is gone.
        t.present(Map.of("shop/web-1", "uid-new", "shop/web-0", "uid-web-0"));
        assertThat(t.next(t0.plusSeconds(1)).kind()).isEqualTo(DrainTracker.Kind.WAIT_GONE);
        assertThat(t.result().terminating()).containsExactly("shop/web-0");
        t.present(Map.of("shop/web-1", "uid-new"));
        assertThat(t.next(t0.plusSeconds(2)).kind()).isEqualTo(DrainTracker.Kind.DONE);
        DrainResult r = t.result();
        assertThat(r.drained()).isTrue();
        assertThat(r.summary()).isEqualTo("node w1 drained: 1 pod evicted");
        // An error is the drain's to throw, not the tracker's to record.
        assertThatThrownBy(() -> t.record("shop/x", DrainRules.Outcome.ERROR, List.of(), ""))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aNodeWithNothingToEvictIsDrainedAtOnce() {
        Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
        DrainTracker t = new DrainTracker("w1", t0, List.of(), List.of());
        assertThat(t.next(t0).kind()).isEqualTo(DrainTracker.Kind.DONE);
        assertThat(t.result().drained()).isTrue();
    }
}
