package dev.kiln.rollout.k8s;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.net.ConnectException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Cordon, drain, readiness and removal of a kubeadm cluster's node, through the API server
 * (fabric8 kubernetes-client over the JDK's HttpClient), authenticated with a short-lived {@link
 * AdminCredentials} certificate.
 *
 * <p>A drain cordons the node, then asks the Eviction API to evict every pod on it except
 * DaemonSet-owned and mirror pods ({@link DrainRules#toEvict}), retries evictions refused by a
 * PodDisruptionBudget (HTTP 429) every {@link DrainTracker#RETRY} until the timeout, and waits for
 * the evicted pods to be gone. It never deletes a pod itself: a pod a budget protects stays, and the
 * result names it and the budget, so the rollout stops there instead of breaking the application.
 *
 * <p><b>Never run against a real API server.</b> This workplace has no Kubernetes binaries, so what
 * is tested is: the certificate (parsed by the JDK and {@code openssl verify}), that fabric8 loads
 * it and a client pointed at a closed port fails naming the API server, the pod selection, the
 * budget matching and the retry/timeout decisions ({@link DrainRules}, {@link DrainTracker}). The
 * request paths and payloads (the JSON merge patch of cordon, the policy/v1 eviction, the field
 * selector on spec.nodeName) are fabric8's and the Kubernetes API's documented ones, unproven here.
 */
public final class KubernetesDrain implements AutoCloseable {
    private final KubernetesClient client;
    private final URI apiServer;
    private final Duration callTimeout;
    // Each call runs here under callTimeout: the JDK HttpClient's request timeout ends at the
    // response headers, so a server that stalls in the body would otherwise hang the rollout.
    private final ExecutorService calls = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "kiln-k8s-call");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param apiServer {@code https://MASTER:6443}
     * @param caCertPem the cluster CA (the API server's certificate is signed by it)
     * @param credentials the admin client certificate and key
     * @param requestTimeout for connecting and for each call, answer included
     */
    public KubernetesDrain(URI apiServer, String caCertPem, AdminCredentials credentials, Duration requestTimeout)
            throws KubernetesException {
        if (!"https".equals(apiServer.getScheme()) || apiServer.getHost() == null) {
            throw new IllegalArgumentException("Kubernetes API server " + apiServer + ": expected https://HOST:6443");
        }
        this.apiServer = apiServer;
        this.callTimeout = requestTimeout;
        int millis = (int) Math.min(Integer.MAX_VALUE, requestTimeout.toMillis());
        // Config.empty(): nothing from ~/.kube/config, KUBECONFIG or a service account leaks in.
        Config config = new ConfigBuilder(Config.empty())
                .withMasterUrl(apiServer.toString())
                .withCaCertData(b64(caCertPem))
                .withClientCertData(b64(credentials.certPem()))
                .withClientKeyData(b64(credentials.keyPem()))
                .withClientKeyAlgo("RSA")
                .withConnectionTimeout(millis)
                .withRequestTimeout(millis)
                // The drain loop retries on its own schedule; fabric8's backoff would only hide the error.
                .withRequestRetryBackoffLimit(0)
                .build();
        try {
            this.client = new KubernetesClientBuilder().withConfig(config).build();
        } catch (RuntimeException e) {
            throw new KubernetesException(
                    "Kubernetes API server " + apiServer + ": cannot use the client certificate: " + reason(e), 0, e);
        }
    }

    public URI apiServer() {
        return apiServer;
    }

    /** Marks {@code node} unschedulable (as kubectl cordon). */
    public void cordon(String node) throws KubernetesException {
        call(
                "cordon " + node,
                () -> client.nodes()
                        .withName(node)
                        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"unschedulable\":true}}"));
    }

    /** Makes {@code node} schedulable again (as kubectl uncordon). */
    public void uncordon(String node) throws KubernetesException {
        call(
                "uncordon " + node,
                () -> client.nodes()
                        .withName(node)
                        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"unschedulable\":null}}"));
    }

    /** Whether {@code node} exists and its Ready condition is True. */
    public boolean ready(String node) throws KubernetesException {
        Node n = call("read node " + node, () -> client.nodes().withName(node).get());
        if (n == null || n.getStatus() == null || n.getStatus().getConditions() == null) {
            return false;
        }
        for (NodeCondition c : n.getStatus().getConditions()) {
            if ("Ready".equals(c.getType())) {
                return "True".equals(c.getStatus());
            }
        }
        return false;
    }

    /**
     * Deletes the Node object of a replaced node (its new incarnation registers afresh under the same
     * name); returns false when there was none.
     */
    public boolean deleteNode(String node) throws KubernetesException {
        return !call("delete node " + node, () -> client.nodes().withName(node).delete())
                .isEmpty();
    }

    /**
     * Cordons {@code node} and evicts its pods (see the class comment), for at most {@code timeout}.
     * The node stays cordoned whatever the result: uncordon it if the rollout gives up on it.
     */
    public DrainResult drain(String node, Duration timeout) throws KubernetesException, InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        cordon(node);
        List<Pod> pods = podsOn(node);
        DrainTracker t = new DrainTracker(node, deadline, DrainRules.toEvict(pods), DrainRules.terminating(pods));
        Map<String, Pod> byKey = new HashMap<>();
        pods.forEach(p -> byKey.put(DrainRules.key(p), p));
        while (true) {
            Map<String, List<PodDisruptionBudget>> budgets = new HashMap<>();
            for (String key : t.pending()) {
                Pod p = byKey.get(key);
                int status = evict(p);
                DrainRules.Outcome o = DrainRules.outcome(status);
                if (o == DrainRules.Outcome.REFUSED) {
                    String ns = p.getMetadata().getNamespace();
                    List<PodDisruptionBudget> inNs = budgets.get(ns);
                    if (inNs == null) {
                        inNs = call(
                                "list PodDisruptionBudgets in " + ns,
                                () -> client.policy()
                                        .v1()
                                        .podDisruptionBudget()
                                        .inNamespace(ns)
                                        .list()
                                        .getItems());
                        budgets.put(ns, inNs);
                    }
                    t.record(key, o, DrainRules.budgetsFor(p, inNs), DrainRules.refusal(status));
                } else {
                    t.record(key, o, List.of(), "");
                }
            }
            Map<String, String> present = new LinkedHashMap<>();
            podsOn(node)
                    .forEach(p -> present.put(DrainRules.key(p), p.getMetadata().getUid()));
            t.present(present);
            DrainTracker.Step step = t.next(Instant.now());
            if (step.kind() == DrainTracker.Kind.DONE || step.kind() == DrainTracker.Kind.TIMED_OUT) {
                return t.result();
            }
            Thread.sleep(step.pause().toMillis());
        }
    }

    private List<Pod> podsOn(String node) throws KubernetesException {
        return call(
                "list pods on " + node,
                () -> client.pods()
                        .inAnyNamespace()
                        .withField("spec.nodeName", node)
                        .list()
                        .getItems());
    }

    /** The HTTP status of the eviction of {@code p}: 201 accepted, 429 refused by a budget, ... */
    private int evict(Pod p) throws KubernetesException {
        return call("evict pod " + DrainRules.key(p), () -> {
            try {
                boolean accepted = client.pods()
                        .inNamespace(p.getMetadata().getNamespace())
                        .withName(p.getMetadata().getName())
                        .evict();
                return accepted ? 201 : 429; // fabric8 answers false for 429 alone
            } catch (KubernetesClientException e) {
                if (DrainRules.outcome(e.getCode()) == DrainRules.Outcome.ERROR) {
                    throw e;
                }
                return e.getCode();
            }
        });
    }

    private <T> T call(String what, Supplier<T> op) throws KubernetesException {
        Future<T> f;
        try {
            f = calls.submit(op::get);
        } catch (RejectedExecutionException e) {
            throw new KubernetesException("Kubernetes API server " + apiServer + ": " + what + ": client closed", 0, e);
        }
        try {
            return f.get(callTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new KubernetesException(
                    "Kubernetes API server " + apiServer + ": " + what + ": no complete answer within "
                            + callTimeout.toMillis() + " ms",
                    0,
                    e);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new KubernetesException("Kubernetes API server " + apiServer + ": " + what + ": interrupted", 0, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw fail(what, r);
            }
            throw new KubernetesException(
                    "Kubernetes API server " + apiServer + ": " + what + ": " + reason(e.getCause()), 0, e.getCause());
        }
    }

    private KubernetesException fail(String what, RuntimeException e) {
        int code = e instanceof KubernetesClientException k ? k.getCode() : 0;
        return new KubernetesException("Kubernetes API server " + apiServer + ": " + what + ": " + reason(e), code, e);
    }

    /** The useful part of fabric8's exception: the API server's status message, or the transport's cause. */
    static String reason(Throwable e) {
        if (e instanceof KubernetesClientException k && k.getCode() > 0) {
            String msg = k.getStatus() != null && k.getStatus().getMessage() != null
                    ? k.getStatus().getMessage()
                    : k.getMessage();
            return "HTTP " + k.getCode() + ": " + msg;
        }
        Throwable root = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException) {
                return t.getMessage() == null
                        ? "connection refused"
                        : t.getMessage().toLowerCase(Locale.ROOT);
            }
            root = t;
        }
        return root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
    }

    private static String b64(String pem) {
        return Base64.getEncoder().encodeToString(pem.getBytes(StandardCharsets.US_ASCII));
    }

    @Override
    public void close() {
        calls.shutdownNow();
        client.close();
    }
}
