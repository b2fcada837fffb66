package dev.kiln.rollout.k8s;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The decisions of a drain, apart from the API calls: which pods leave, which budget holds a pod,
 * what an eviction answer means. Pure functions over fabric8's model objects, so they are tested
 * without an API server.
 */
final class DrainRules {
    /** The kubelet marks the API server's copy of a static pod with this annotation. */
    static final String MIRROR_ANNOTATION = "kubernetes.io/config.mirror";

    private DrainRules() {}

    /**
     * The pods of a node that a drain evicts, as {@code kubectl drain --ignore-daemonsets} would:
     * everything except DaemonSet-owned pods (the DaemonSet controller would put them right back,
     * and they tolerate the cordon) and mirror pods (static pods the kubelet runs from its manifest
     * directory; the API server cannot evict them). Pods already terminating are left out too: they
     * are leaving, the drain only waits for them ({@link #terminating}).
     *
     * <p>Pods without a controller are evicted as well (kubectl wants --force for them): the node
     * is about to be replaced, and such a pod dies with it either way.
     */
    static List<Pod> toEvict(List<Pod> podsOnNode) {
        List<Pod> out = new ArrayList<>();
        for (Pod p : podsOnNode) {
            if (!daemonSetOwned(p) && !mirror(p) && !terminatingNow(p)) {
                out.add(p);
            }
        }
        return out;
    }

    /** Pods of the node being deleted already (their deletionTimestamp is set); a drain waits for them. */
    static List<Pod> terminating(List<Pod> podsOnNode) {
        return podsOnNode.stream()
                .filter(p -> terminatingNow(p) && !daemonSetOwned(p) && !mirror(p))
                .toList();
    }

    static boolean daemonSetOwned(Pod p) {
        List<OwnerReference> owners = p.getMetadata().getOwnerReferences();
        return owners != null
                && owners.stream()
                        .anyMatch(o -> "DaemonSet".equals(o.getKind()) && Boolean.TRUE.equals(o.getController()));
    }

    static boolean mirror(Pod p) {
        Map<String, String> a = p.getMetadata().getAnnotations();
        return a != null && a.containsKey(MIRROR_ANNOTATION);
    }

    private static boolean terminatingNow(Pod p) {
        return p.getMetadata().getDeletionTimestamp() != null;
    }

    static String key(Pod p) {
        return p.getMetadata().getNamespace() + "/" + p.getMetadata().getName();
    }

    /**
     * The PodDisruptionBudgets ("namespace/name") whose selector matches {@code pod}: a budget
     * applies to pods of its own namespace; in policy/v1 an empty selector matches every pod of the
     * namespace and a missing one matches none.
     */
    static List<String> budgetsFor(Pod pod, List<PodDisruptionBudget> budgets) {
        List<String> out = new ArrayList<>();
        for (PodDisruptionBudget b : budgets) {
            if (!Objects.equals(
                    b.getMetadata().getNamespace(), pod.getMetadata().getNamespace())) {
                continue;
            }
            LabelSelector s = b.getSpec() == null ? null : b.getSpec().getSelector();
            if (s != null && matches(s, labels(pod))) {
                out.add(b.getMetadata().getNamespace() + "/" + b.getMetadata().getName());
            }
        }
        return out;
    }

    static boolean matches(LabelSelector s, Map<String, String> labels) {
        if (s.getMatchLabels() != null) {
            for (Map.Entry<String, String> e : s.getMatchLabels().entrySet()) {
                if (!e.getValue().equals(labels.get(e.getKey()))) {
                    return false;
                }
            }
        }
        if (s.getMatchExpressions() != null) {
            for (LabelSelectorRequirement r : s.getMatchExpressions()) {
                String v = labels.get(r.getKey());
                List<String> values = r.getValues() == null ? List.of() : r.getValues();
                boolean ok = switch (r.getOperator()) {
                    case "In" -> v != null && values.contains(v);
                    case "NotIn" -> v == null || !values.contains(v);
                    case "Exists" -> v != null;
                    case "DoesNotExist" -> v == null;
                    // An operator this code does not know: assume it matches, so the budget is named.
                    default -> true;
                };
                if (!ok) {
                    return false;
                }
            }
        }
        return true;
    }

    private static Map<String, String> labels(Pod p) {
        return p.getMetadata().getLabels() == null ? Map.of() : p.getMetadata().getLabels();
    }

    /** What an answer to an eviction request means for the drain. */
    enum Outcome {
        /** Accepted: the pod is being deleted gracefully. */
        EVICTED,
        /** 404: the pod is gone already. */
        GONE,
        /** 429 (a budget would be violated) or 500 (more than one budget selects the pod): try again later. */
        REFUSED,
        /** Anything else (403 forbidden, 400 ...): the drain stops with this error. */
        ERROR
    }

    /** The outcome of an eviction answered with HTTP {@code status}. */
    static Outcome outcome(int status) {
        return switch (status) {
            case 200, 201 -> Outcome.EVICTED;
            case 404 -> Outcome.GONE;
            case 429, 500 -> Outcome.REFUSED;
            default -> Outcome.ERROR;
        };
    }

    static String refusal(int status) {
        return status == 429
                ? "HTTP 429: evicting it would violate its disruption budget"
                : "HTTP " + status + ": more than one disruption budget selects it";
    }
}
