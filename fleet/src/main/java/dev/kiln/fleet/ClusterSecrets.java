package dev.kiln.fleet;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.json.Json;
import dev.kiln.core.util.Files2;
import dev.kiln.core.util.Hashing;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Bootstrap material of each cluster, made once and kept in the state directory: a cluster CA (so
 * every node can pin its hash before the cluster exists, as kubeadm's caCertHashes wants), a
 * bootstrap token and a certificate key for kubeadm's control-plane join. Workers get only what
 * joining needs; the CA key and the certificate key go to masters alone.
 */
final class ClusterSecrets {
    /** Metadata keys this class fills in (the inventory may not redefine them). */
    static final Set<String> KEYS = Set.of("caCert", "caCertHash", "bootstrapToken", "caKey", "certificateKey");

    private static final String ALPHANUM = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final StateDir state;
    private final Map<String, Map<String, String>> byCluster = new LinkedHashMap<>();

    ClusterSecrets(StateDir state) {
        this.state = state;
    }

    /** The material for a node of {@code cluster}; created on first use and then never changed. */
    synchronized Map<String, String> forNode(String cluster, boolean master) throws IOException {
        Map<String, String> all = byCluster.get(cluster);
        if (all == null) {
            all = loadOrCreate(cluster);
            byCluster.put(cluster, all);
        }
        Map<String, String> out = new LinkedHashMap<>();
        out.put("caCert", all.get("caCert"));
        out.put("caCertHash", all.get("caCertHash"));
        out.put("bootstrapToken", all.get("bootstrapToken"));
        if (master) {
            out.put("caKey", all.get("caKey"));
            out.put("certificateKey", all.get("certificateKey"));
        }
        return out;
    }

    /** What is stored for {@code cluster}, or null when no node of it has been served yet. Never creates. */
    static Map<String, String> stored(StateDir state, String cluster) throws IOException {
        Path file = state.file(fileName(cluster));
        if (!Files.isRegularFile(file)) {
            return null;
        }
        return Json.MAPPER.readValue(file.toFile(), new TypeReference<Map<String, String>>() {});
    }

    private static String fileName(String cluster) {
        return "cluster-" + cluster + ".json";
    }

    private Map<String, String> loadOrCreate(String cluster) throws IOException {
        String name = fileName(cluster);
        Path file = state.file(name);
        if (Files.isRegularFile(file)) {
            return Json.MAPPER.readValue(file.toFile(), new TypeReference<Map<String, String>>() {});
        }
        Map<String, String> made = create();
        state.writeAtomically(name, Json.COMPACT.writeValueAsBytes(made));
        return made;
    }

    private Map<String, String> create() throws IOException {
        Path tmp = Files.createTempDirectory(state.dir(), ".ca-");
        try {
            Path key = tmp.resolve("ca.key");
            Path crt = tmp.resolve("ca.crt");
            // CN=kubernetes and a 10-year validity: what kubeadm itself would make.
            Exec.of(
                            "openssl",
                            "req",
                            "-x509",
                            "-newkey",
                            "rsa:2048",
                            "-nodes",
                            "-days",
                            "3650",
                            "-subj",
                            "/CN=kubernetes",
                            "-keyout",
                            key.toString(),
                            "-out",
                            crt.toString(),
                            "-addext",
                            "basicConstraints=critical,CA:TRUE",
                            "-addext",
                            "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign")
                    .run();
            Map<String, String> m = new LinkedHashMap<>();
            String caCert = Files.readString(crt);
            m.put("caCert", caCert);
            m.put("caCertHash", caCertHash(caCert));
            m.put("caKey", Files.readString(key));
            m.put("bootstrapToken", random(6) + "." + random(16));
            byte[] certificateKey = new byte[32];
            RANDOM.nextBytes(certificateKey);
            m.put("certificateKey", HexFormat.of().formatHex(certificateKey));
            return m;
        } finally {
            Files2.deleteRecursively(tmp);
        }
    }

    /** kubeadm's CA pin: "sha256:" + hex sha256 of the certificate's SubjectPublicKeyInfo (DER). */
    static String caCertHash(String pem) throws IOException {
        try {
            X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
            return "sha256:" + Hashing.sha256(cert.getPublicKey().getEncoded());
        } catch (CertificateException e) {
            throw new IOException("cannot read the cluster CA certificate: " + e.getMessage(), e);
        }
    }

    private static String random(int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append(ALPHANUM.charAt(RANDOM.nextInt(ALPHANUM.length())));
        }
        return sb.toString();
    }
}
