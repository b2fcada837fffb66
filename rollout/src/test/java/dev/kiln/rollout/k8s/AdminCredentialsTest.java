package dev.kiln.rollout.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.kiln.core.exec.Exec;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin client certificate, checked by the JDK, by openssl, and loaded by fabric8. */
class AdminCredentialsTest {
    @TempDir
    Path tmp;

    /** A cluster CA made the way fleet's ClusterSecrets makes it. */
    static String[] makeCa(Path dir, String name) throws Exception {
        Path key = dir.resolve(name + ".key");
        Path crt = dir.resolve(name + ".crt");
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
        return new String[] {Files.readString(crt), Files.readString(key)};
    }

    @Test
    void aShortLivedClientCertificateForSystemMastersSignedByTheClusterCa() throws Exception {
        String[] ca = makeCa(tmp, "ca");
        Instant before = Instant.now();
        AdminCredentials a = AdminCredentials.mint(ca[0], ca[1]);
        X509Certificate cert = a.certificate();
        X509Certificate caCert = AdminCredentials.parse(ca[0], "ca");

        assertThat(cert.getSubjectX500Principal().getName()).isEqualTo("CN=kiln-rollout,O=system:masters");
        assertThat(cert.getIssuerX500Principal()).isEqualTo(caCert.getSubjectX500Principal());
        cert.verify(caCert.getPublicKey()); // throws unless the CA signed it
        cert.checkValidity();
        // One hour from now, started a little in the past for clocks that lag.
        assertThat(cert.getNotAfter().toInstant())
                .isCloseTo(before.plus(Duration.ofHours(1)), within(30, ChronoUnit.SECONDS))
                .isEqualTo(a.notAfter());
        assertThat(cert.getNotBefore().toInstant()).isBefore(before.minus(Duration.ofMinutes(4)));
        assertThat(cert.getBasicConstraints()).isEqualTo(-1); // not a CA
        boolean[] ku = cert.getKeyUsage();
        assertThat(ku[0]).as("digitalSignature").isTrue();
        assertThat(ku[2]).as("keyEncipherment").isTrue();
        assertThat(ku[5]).as("keyCertSign").isFalse();
        assertThat(cert.getCriticalExtensionOIDs()).contains("2.5.29.15"); // keyUsage
        assertThat(cert.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2"); // clientAuth only

        // The key is the certificate's: what it signs, the certificate's public key verifies.
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pem(a.keyPem())));
        Signature s = Signature.getInstance("SHA256withRSA");
        s.initSign(key);
        s.update("drain".getBytes(StandardCharsets.UTF_8));
        byte[] sig = s.sign();
        s.initVerify(cert.getPublicKey());
        s.update("drain".getBytes(StandardCharsets.UTF_8));
        assertThat(s.verify(sig)).isTrue();
        assertThat(a.toString()).doesNotContain("PRIVATE");

        // openssl agrees: valid for TLS client authentication under this CA.
        Path crt = tmp.resolve("admin.crt");
        Files.writeString(crt, a.certPem());
        String verified = Exec.of(
                        "openssl",
                        "verify",
                        "-CAfile",
                        tmp.resolve("ca.crt").toString(),
                        "-purpose",
                        "sslclient",
                        crt.toString())
                .run();
        assertThat(verified).contains(crt + ": OK");
        // ... and not under another CA.
        makeCa(tmp, "other");
        Exec.Result other = Exec.of(
                        "openssl", "verify", "-CAfile", tmp.resolve("other.crt").toString(), crt.toString())
                .runAllowingFailure();
        assertThat(other.exitCode()).isNotZero();

        // Two mints are two certificates.
        assertThat(AdminCredentials.mint(ca[0], ca[1]).certificate().getSerialNumber())
                .isNotEqualTo(cert.getSerialNumber());
    }

    @Test
    void aCaKeyThatIsNotTheCertificatesIsRefused() throws Exception {
        String[] ca = makeCa(tmp, "ca");
        String[] other = makeCa(tmp, "other");
        assertThatThrownBy(() -> AdminCredentials.mint(ca[0], other[1]))
                .hasMessageContaining("cannot sign the admin certificate with the cluster CA");
        assertThatThrownBy(() -> AdminCredentials.mint("not a certificate", ca[1]))
                .hasMessageContaining("cannot read the cluster CA certificate");
        assertThatThrownBy(() -> AdminCredentials.mint(ca[0], ca[1], Duration.ofDays(2)))
                .hasMessageContaining("expected up to 1 day");
    }

    @Test
    void fabric8LoadsTheCredentialsAndAClosedPortNamesTheApiServer() throws Exception {
        String[] ca = makeCa(tmp, "ca");
        AdminCredentials a = AdminCredentials.mint(ca[0], ca[1]);
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        URI url = URI.create("https://127.0.0.1:" + port);
        try (KubernetesDrain k = new KubernetesDrain(url, ca[0], a, Duration.ofSeconds(2))) {
            assertThatThrownBy(() -> k.ready("w1"))
                    .isInstanceOf(KubernetesException.class)
                    .hasMessage("Kubernetes API server " + url + ": read node w1: connection refused");
            assertThatThrownBy(() -> k.drain("w1", Duration.ofSeconds(5)))
                    .hasMessage("Kubernetes API server " + url + ": cordon w1: connection refused");
        }
        // A key that is not a key fails before any request, naming the API server.
        AdminCredentials broken = new AdminCredentials(
                a.certPem(), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", a.notAfter());
        assertThatThrownBy(() -> new KubernetesDrain(url, ca[0], broken, Duration.ofSeconds(2)).close())
                .hasMessageContaining("Kubernetes API server " + url + ": cannot use the client certificate");
        assertThatThrownBy(
                        () -> new KubernetesDrain(URI.create("http://127.0.0.1:8080"), ca[0], a, Duration.ofSeconds(2)))
                .hasMessageContaining("expected https://HOST:6443");
    }

    private static byte[] pem(String pem) {
        String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return Base64.getDecoder().decode(body);
    }
}
