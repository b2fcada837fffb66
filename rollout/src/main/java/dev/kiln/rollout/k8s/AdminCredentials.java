package dev.kiln.rollout.k8s;

import dev.kiln.core.exec.Exec;
import dev.kiln.core.util.Files2;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;

/**
 * A short-lived client certificate for the Kubernetes API server, signed by the cluster CA kiln
 * serve made for the cluster (the one kubeadm's masters use, see fleet's {@code ClusterCa}): CN
 * {@value #USER}, O {@value #GROUP} (cluster-admin through the default RBAC binding), clientAuth
 * only. Minted per rollout step and never written anywhere but a 0700 temporary directory that is
 * removed at once, so a leaked one expires by itself.
 *
 * <p>Made with {@code openssl} (the same tool that makes the CA): {@code genpkey} for an RSA key
 * (PKCS#8 PEM), {@code req} for the request, {@code ca} to sign, because only {@code openssl ca}
 * in OpenSSL 3.0 takes an exact start and end time (backdated {@link #CLOCK_SKEW} for nodes whose
 * clock is a little behind).
 *
 * @param certPem the client certificate (PEM)
 * @param keyPem its private key (PKCS#8 PEM, unencrypted)
 * @param notAfter when it stops being valid
 */
public record AdminCredentials(String certPem, String keyPem, Instant notAfter) {
    public static final String USER = "kiln-rollout";
    public static final String GROUP = "system:masters";
    public static final Duration DEFAULT_VALIDITY = Duration.ofHours(1);
    static final Duration CLOCK_SKEW = Duration.ofMinutes(5);

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final DateTimeFormatter ASN1_TIME =
            DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'").withZone(ZoneOffset.UTC);

    @Override
    public String toString() {
        return "AdminCredentials[CN=" + USER + ", O=" + GROUP + ", notAfter=" + notAfter + "]"; // never the key
    }

    /** {@link #mint(String, String, Duration)} with {@link #DEFAULT_VALIDITY}. */
    public static AdminCredentials mint(String caCertPem, String caKeyPem) throws IOException {
        return mint(caCertPem, caKeyPem, DEFAULT_VALIDITY);
    }

    /**
     * Signs a new admin client certificate with the cluster CA.
     *
     * @param caCertPem the cluster CA certificate (PEM)
     * @param caKeyPem its private key (PEM)
     * @param validity from now (the certificate also starts {@link #CLOCK_SKEW} in the past)
     */
    public static AdminCredentials mint(String caCertPem, String caKeyPem, Duration validity) throws IOException {
        if (validity.isNegative() || validity.isZero() || validity.compareTo(Duration.ofDays(1)) > 0) {
            throw new IllegalArgumentException("admin certificate validity " + validity + ": expected up to 1 day");
        }
        X509Certificate ca = parse(caCertPem, "the cluster CA certificate");
        Path tmp = Files.createTempDirectory(
                "kiln-admin-cert-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            Path caCrt = tmp.resolve("ca.crt");
            Path caKey = tmp.resolve("ca.key");
            Files.writeString(caCrt, caCertPem, StandardCharsets.US_ASCII);
            Files.writeString(caKey, caKeyPem, StandardCharsets.US_ASCII);
            Path key = tmp.resolve("admin.key");
            Path csr = tmp.resolve("admin.csr");
            Path crt = tmp.resolve("admin.crt");
            Exec.of(
                            "openssl",
                            "genpkey",
                            "-algorithm",
                            "RSA",
                            "-pkeyopt",
                            "rsa_keygen_bits:2048",
                            "-out",
                            key.toString())
                    .run();
            Exec.of(
                            "openssl",
                            "req",
                            "-new",
                            "-key",
                            key.toString(),
                            "-subj",
                            "/O=" + GROUP + "/CN=" + USER,
                            "-out",
                            csr.toString())
                    .run();
            // openssl ca keeps a database and a serial file; both live and die in tmp.
            Files.writeString(tmp.resolve("index.txt"), "");
            byte[] serial = new byte[16];
            RANDOM.nextBytes(serial);
            serial[0] &= 0x7f; // positive, as RFC 5280 wants
            Files.writeString(tmp.resolve("serial"), HexFormat.of().formatHex(serial) + "\n");
            Files.writeString(tmp.resolve("ca.cnf"), config(tmp));
            Instant now = Instant.now();
            Instant notAfter = now.plus(validity).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
            if (notAfter.isAfter(ca.getNotAfter().toInstant())) {
                throw new IOException("the cluster CA expires at "
                        + ca.getNotAfter().toInstant() + ", before the admin certificate would (" + notAfter + ")");
            }
            String signed;
            try {
                signed = Exec.of(
                                "openssl",
                                "ca",
                                "-batch",
                                "-config",
                                tmp.resolve("ca.cnf").toString(),
                                "-cert",
                                caCrt.toString(),
                                "-keyfile",
                                caKey.toString(),
                                "-in",
                                csr.toString(),
                                "-out",
                                crt.toString(),
                                "-notext",
                                "-preserveDN",
                                "-startdate",
                                ASN1_TIME.format(now.minus(CLOCK_SKEW)),
                                "-enddate",
                                ASN1_TIME.format(notAfter))
                        .run();
            } catch (IOException e) {
                throw new IOException(
                        "cannot sign the admin certificate with the cluster CA (does the CA key match"
                                + " the CA certificate?): " + e.getMessage(),
                        e);
            }
            String certPem = Files.readString(crt, StandardCharsets.US_ASCII);
            parse(certPem, "the admin certificate openssl made: " + signed);
            return new AdminCredentials(certPem, Files.readString(key, StandardCharsets.US_ASCII), notAfter);
        } finally {
            Files2.deleteRecursively(tmp);
        }
    }

    /** The certificate as the JDK reads it. */
    public X509Certificate certificate() throws IOException {
        return parse(certPem, "the admin certificate");
    }

    private static String config(Path dir) {
        // x509_extensions: what a kubeadm admin.conf client certificate carries.
        return """
                [ca]
                default_ca = kiln
                [kiln]
                dir = %s
                database = $dir/index.txt
                new_certs_dir = $dir
                serial = $dir/serial
                default_md = sha256
                policy = any
                unique_subject = no
                copy_extensions = none
                x509_extensions = client
                [any]
                organizationName = supplied
                commonName = supplied
                [client]
                basicConstraints = critical,CA:FALSE
                keyUsage = critical,digitalSignature,keyEncipherment
                extendedKeyUsage = clientAuth
                subjectKeyIdentifier = hash
                authorityKeyIdentifier = keyid
                """.formatted(dir);
    }

    static X509Certificate parse(String pem, String what) throws IOException {
        try {
            return (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)));
        } catch (CertificateException | ClassCastException e) {
            throw new IOException("cannot read " + what + " (expected a PEM X.509 certificate): " + e.getMessage(), e);
        }
    }
}
