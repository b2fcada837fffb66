package dev.kiln.machines.lab;

import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.util.HexFormat;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * The lab's BMC certificate for 127.0.0.1 and localhost, signed by a CA of the lab's own, made with
 * openssl. The CA's PEM is the caFile the lab's inventory gives, so clients verify TLS as they
 * would against a real BMC whose CA they were handed.
 */
public final class LabCertificate {
    private final Path caFile;
    private final Path keystore;
    private final String storePassword;

    private LabCertificate(Path caFile, Path keystore, String storePassword) {
        this.caFile = caFile;
        this.keystore = keystore;
        this.storePassword = storePassword;
    }

    public static LabCertificate create(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path caKey = dir.resolve("ca-key.pem");
        Path ca = dir.resolve("bmc-ca.pem");
        Path key = dir.resolve("bmc-key.pem");
        Path csr = dir.resolve("bmc.csr");
        Path cert = dir.resolve("bmc-cert.pem");
        Path ext = dir.resolve("bmc.ext");
        Path p12 = dir.resolve("bmc.p12");
        byte[] b = new byte[12];
        new SecureRandom().nextBytes(b);
        String pass = HexFormat.of().formatHex(b);
        // A CA of its own and a server certificate it signs: clients (the JDK, Python's ssl)
        // trust the CA file as they would a real BMC vendor's or site's CA.
        Exec.of(
                        "openssl",
                        "req",
                        "-x509",
                        "-newkey",
                        "rsa:2048",
                        "-nodes",
                        "-keyout",
                        caKey.toString(),
                        "-out",
                        ca.toString(),
                        "-days",
                        "30",
                        "-subj",
                        "/CN=kiln lab BMC CA",
                        "-addext",
                        "basicConstraints=critical,CA:TRUE",
                        "-addext",
                        "keyUsage=critical,keyCertSign,cRLSign")
                .run();
        Exec.of(
                        "openssl",
                        "req",
                        "-newkey",
                        "rsa:2048",
                        "-nodes",
                        "-keyout",
                        key.toString(),
                        "-out",
                        csr.toString(),
                        "-subj",
                        "/CN=127.0.0.1")
                .run();
        Files.writeString(
                ext,
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
                        + "basicConstraints=CA:FALSE\n");
        Exec.of(
                        "openssl",
                        "x509",
                        "-req",
                        "-in",
                        csr.toString(),
                        "-CA",
                        ca.toString(),
                        "-CAkey",
                        caKey.toString(),
                        "-CAcreateserial",
                        "-out",
                        cert.toString(),
                        "-days",
                        "30",
                        "-extfile",
                        ext.toString())
                .run();
        // The keystore's password through the environment, not argv.
        Exec.of(
                        "openssl",
                        "pkcs12",
                        "-export",
                        "-in",
                        cert.toString(),
                        "-inkey",
                        key.toString(),
                        "-certfile",
                        ca.toString(),
                        "-out",
                        p12.toString(),
                        "-passout",
                        "env:KILN_LAB_P12")
                .env("KILN_LAB_P12", pass)
                .run();
        for (Path done : new Path[] {caKey, key, csr, ext, dir.resolve("bmc-ca.srl")}) {
            Files.deleteIfExists(done);
        }
        return new LabCertificate(ca, p12, pass);
    }

    /** The certificate (PEM): what a client trusts (the inventory's caFile). */
    public Path caFile() {
        return caFile;
    }

    SSLContext sslContext() throws IOException {
        try (InputStream in = Files.newInputStream(keystore)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, storePassword.toCharArray());
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, storePassword.toCharArray());
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot load the lab's BMC keystore " + keystore + ": " + e.getMessage(), e);
        }
    }
}
