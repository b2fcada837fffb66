package dev.kiln.rollout.etcd;

import java.io.IOException;

/**
 * An etcd call that failed: no endpoint answered, or one answered with an error. The message names
 * the endpoint(s) and the operation, e.g. {@code etcd at http://10.0.0.11:2379: member remove
 * 8e9e05c52164694d: etcdserver: member not found}.
 */
public final class EtcdException extends IOException {
    private final int code;
    private final String reason;

    EtcdException(String prefix, String reason, int code, Throwable cause) {
        super(prefix + reason, cause);
        this.code = code;
        this.reason = reason;
    }

    /** What failed, without the endpoint and operation: "connection refused", "etcdserver: ...". */
    public String reason() {
        return reason;
    }

    /**
     * The gRPC status code etcd answered with (5 NOT_FOUND, 9 FAILED_PRECONDITION, 14 UNAVAILABLE,
     * ...), or -1 when no endpoint answered at all.
     */
    public int code() {
        return code;
    }
}
