package dev.kiln.fleet;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;

/**
 * A cluster's CA as kiln serve made it for kubeadm (see {@link ClusterSecrets}), read-only: the
 * rollout signs its short-lived admin client certificate with it to drain nodes.
 *
 * @param certPem the CA certificate (PEM)
 * @param keyPem the CA private key (PEM)
 */
public record ClusterCa(String certPem, String keyPem) {
    @Override
    public String toString() {
        return "ClusterCa[key hidden]";
    }

    /**
     * The CA of {@code cluster} in kiln serve's state directory, or empty when kiln serve has not
     * served a node of that cluster yet (it makes the CA on first use, never here).
     */
    public static Optional<ClusterCa> read(StateDir state, String cluster) throws IOException {
        Map<String, String> m = ClusterSecrets.stored(state, cluster);
        if (m == null || m.get("caCert") == null || m.get("caKey") == null) {
            return Optional.empty();
        }
        return Optional.of(new ClusterCa(m.get("caCert"), m.get("caKey")));
    }
}
