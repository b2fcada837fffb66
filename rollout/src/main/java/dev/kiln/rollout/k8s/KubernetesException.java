package dev.kiln.rollout.k8s;

import java.io.IOException;

/**
 * A Kubernetes API call that failed; the message names the API server URL, the operation and the
 * reason, e.g. {@code Kubernetes API server https://10.0.0.11:6443: cordon w1: connection refused}.
 */
public final class KubernetesException extends IOException {
    private final int code;

    KubernetesException(String message, int code, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** The HTTP status the API server answered with, or 0 when it was not reached. */
    public int code() {
        return code;
    }
}
