package dev.kiln.rollout.k8s;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.exec.Exec;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TLS half of talking to an API server, with openssl's own TLS server in its place: it demands
 * a client certificate that verifies against the cluster CA, as kube-apiserver's --client-ca-file
 * does. No Kubernetes API is served (openssl answers every request with its status page), so this
 * proves the handshake only: fabric8 trusts the server through the cluster CA PEM, checks the
 * server's IP SAN, and presents the minted certificate, which the server accepts.
 */
class ClientTlsTest {
    @TempDir
    Path tmp;

    @Test
    void theMintedCertificateIsPresentedAndAcceptedInTheTlsHandshake() throws Exception {
        String[] ca = AdminCredentialsTest.makeCa(tmp, "ca");
        serverCertificate("ca");
        AdminCredentials admin = AdminCredentials.mint(ca[0], ca[1]);
        String[] other = AdminCredentialsTest.makeCa(tmp, "other");

        // openssl s_server serves one connection at a time: one server per case.
        try (TlsServer server = new TlsServer("accepted")) {
            try (KubernetesDrain k = new KubernetesDrain(server.url, ca[0], admin, Duration.ofSeconds(2))) {
                // The handshake succeeds; openssl then sends its status page and keeps the connection
                // open, a server stalling mid-answer: the call's own timeout ends it.
                assertThatThrownBy(() -> k.ready("w1"))
                        .isInstanceOf(KubernetesException.class)
                        .hasMessage("Kubernetes API server " + server.url
                                + ": read node w1: no complete answer within 2000 ms");
            }
            assertThat(server.log())
                    .contains("depth=0 O = system:masters, CN = kiln-rollout\nverify return:1")
                    .doesNotContain("verify error");
        }

        // A certificate from another CA is refused in the handshake, and the error names the server.
        AdminCredentials stranger = AdminCredentials.mint(other[0], other[1]);
        try (TlsServer server = new TlsServer("stranger");
                KubernetesDrain k = new KubernetesDrain(server.url, ca[0], stranger, Duration.ofSeconds(5))) {
            assertThatThrownBy(() -> k.ready("w1"))
                    .isInstanceOf(KubernetesException.class)
                    .hasMessageStartingWith("Kubernetes API server " + server.url + ": read node w1: ");
            assertThat(server.log()).contains("verify error");
        }

        // A server certificate under a CA the client was not given is refused by the client.
        try (TlsServer server = new TlsServer("untrusted");
                KubernetesDrain k = new KubernetesDrain(server.url, other[0], admin, Duration.ofSeconds(5))) {
            assertThatThrownBy(() -> k.ready("w1"))
                    .isInstanceOf(KubernetesException.class)
                    .hasMessageStartingWith("Kubernetes API server " + server.url + ": read node w1: ");
            assertThat(server.log()).doesNotContain("kiln-rollout");
        }
    }

    /** openssl s_server with the cluster's serving certificate, demanding a client certificate from the CA. */
    private final class TlsServer implements AutoCloseable {
        final URI url;
        final Path log;
        final Process process;

        TlsServer(String name) throws Exception {
            int port = freePort();
            this.url = URI.create("https://127.0.0.1:" + port);
            this.log = tmp.resolve(name + ".log");
            this.process = new ProcessBuilder(
                            "openssl",
                            "s_server",
                            "-accept",
                            "127.0.0.1:" + port,
                            "-cert",
                            tmp.resolve("server.crt").toString(),
                            "-key",
                            tmp.resolve("server.key").toString(),
                            "-CAfile",
                            tmp.resolve("ca.crt").toString(),
                            "-Verify",
                            "1",
                            "-verify_return_error",
                            "-www")
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            try {
                awaitListening(port, process, log);
            } catch (Exception | Error e) {
                close();
                throw e;
            }
        }

        String log() throws Exception {
            return Files.readString(log);
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** What kubeadm gives kube-apiserver: a serving certificate for the node's address, signed by the CA. */
    private void serverCertificate(String caName) throws Exception {
        Exec.of(
                        "openssl",
                        "req",
                        "-new",
                        "-newkey",
                        "rsa:2048",
                        "-nodes",
                        "-subj",
                        "/CN=kube-apiserver",
                        "-keyout",
                        tmp.resolve("server.key").toString(),
                        "-out",
                        tmp.resolve("server.csr").toString())
                .run();
        Files.writeString(tmp.resolve("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        Exec.of(
                        "openssl",
                        "x509",
                        "-req",
                        "-in",
                        tmp.resolve("server.csr").toString(),
                        "-CA",
                        tmp.resolve(caName + ".crt").toString(),
                        "-CAkey",
                        tmp.resolve(caName + ".key").toString(),
                        "-set_serial",
                        "2",
                        "-days",
                        "1",
                        "-extfile",
                        tmp.resolve("server.ext").toString(),
                        "-out",
                        tmp.resolve("server.crt").toString())
                .run();
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void awaitListening(int port, Process server, Path log) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                return;
            } catch (java.io.IOException e) {
                if (!server.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("openssl s_server did not start: " + Files.readString(log), e);
                }
                Thread.sleep(50);
            }
        }
    }
}
