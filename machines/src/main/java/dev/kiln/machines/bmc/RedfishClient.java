package dev.kiln.machines.bmc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.core.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * HTTP to one Redfish service: TLS verified against the endpoint's caFile (or the JDK's CAs), or
 * not at all only when the inventory says {@code insecure: true}; a session
 * (SessionService/Sessions, X-Auth-Token) when the service has one, else basic auth; bounded
 * retries with backoff for what did not answer, none for a refused login.
 */
final class RedfishClient implements AutoCloseable {
    private static final int ATTEMPTS = 3;

    record Response(int status, JsonNode body, HttpHeaders headers) {
        /** The resource's ETag: the header, or the body's @odata.etag. */
        Optional<String> etag() {
            Optional<String> h = headers.firstValue("ETag");
            return h.isPresent()
                    ? h
                    : Optional.ofNullable(body.path("@odata.etag").textValue());
        }

        Optional<String> location() {
            return headers.firstValue("Location");
        }
    }

    private final BmcEndpoint bmc;
    private final URI base;
    private final HttpClient http;
    private String token;
    private URI session;
    private boolean basic;

    RedfishClient(BmcEndpoint bmc) throws IOException {
        this.bmc = bmc;
        String a = bmc.address().replaceAll("/+$", "");
        this.base = URI.create(a);
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(bmc.timeout());
        if ("https".equals(base.getScheme())) {
            b.sslContext(sslContext());
        }
        this.http = b.build();
    }

    private SSLContext sslContext() throws IOException {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            if (bmc.insecure()) {
                ctx.init(null, new TrustManager[] {new TrustAnything()}, new SecureRandom());
            } else if (bmc.caFile() != null) {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                int i = 0;
                try (InputStream in = Files.newInputStream(bmc.caFile())) {
                    for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                        ks.setCertificateEntry("ca" + i++, c);
                    }
                }
                if (i == 0) {
                    throw new IOException(bmc.who() + ": caFile " + bmc.caFile() + " holds no PEM certificate");
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ks);
                ctx.init(null, tmf.getTrustManagers(), new SecureRandom());
            } else {
                return SSLContext.getDefault();
            }
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException(bmc.who() + ": cannot use caFile " + bmc.caFile() + ": " + e.getMessage(), e);
        }
    }

    /** Logs in: a session when the service offers one; basic auth when it has no SessionService. */
    void login() throws IOException, InterruptedException {
        ObjectNode creds = Json.MAPPER
                .createObjectNode()
                .put("UserName", bmc.user())
                .put("Password", bmc.password().reveal());
        Response r = send("POST", "/redfish/v1/SessionService/Sessions", creds, null, false);
        if (r.status() == 401 || r.status() == 403) {
            throw new BmcException(
                    bmc,
                    BmcException.Kind.AUTH,
                    "login as '"
                            + bmc.user()
                            + "' refused (HTTP "
                            + r.status()
                            + ": wrong user name or password from "
                            + bmc.password().source()
                            + "; not retried, so the account"
                            + " is not locked out)"
                            + message(r));
        }
        if (r.status() == 404 || r.status() == 405 || r.status() == 501) {
            basic = true;
            Response check = send("GET", "/redfish/v1/Systems", null, null, true);
            if (check.status() == 401 || check.status() == 403) {
                throw new BmcException(
                        bmc,
                        BmcException.Kind.AUTH,
                        "basic auth as '"
                                + bmc.user()
                                + "' refused (HTTP "
                                + check.status()
                                + "; password from "
                                + bmc.password().source()
                                + "; not retried)");
            }
            return;
        }
        if (r.status() / 100 != 2) {
            throw refused("POST /redfish/v1/SessionService/Sessions", r);
        }
        token = r.headers()
                .firstValue("X-Auth-Token")
                .orElseThrow(() ->
                        new BmcException(bmc, BmcException.Kind.REFUSED, "created a session but sent no X-Auth-Token"));
        session = r.location().map(l -> base.resolve(l)).orElse(null);
    }

    Response get(String path) throws IOException, InterruptedException {
        return check("GET " + path, send("GET", path, null, null, true));
    }

    Response send(String method, String path, JsonNode body, String ifMatch, boolean authenticated)
            throws IOException, InterruptedException {
        URI uri = path.startsWith("http") ? URI.create(path) : base.resolve(path);
        long backoff = 500;
        IOException last = null;
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            HttpRequest.Builder rb =
                    HttpRequest.newBuilder(uri).timeout(bmc.timeout()).header("Accept", "application/json");
            if (authenticated) {
                if (token != null) {
                    rb.header("X-Auth-Token", token);
                } else if (basic) {
                    rb.header(
                            "Authorization",
                            "Basic "
                                    + Base64.getEncoder()
                                            .encodeToString((bmc.user() + ":"
                                                            + bmc.password().reveal())
                                                    .getBytes(StandardCharsets.UTF_8)));
                }
            }
            if (ifMatch != null) {
                rb.header("If-Match", ifMatch);
            }
            if (body != null) {
                rb.header("Content-Type", "application/json")
                        .method(method, HttpRequest.BodyPublishers.ofByteArray(Json.MAPPER.writeValueAsBytes(body)));
            } else {
                rb.method(method, HttpRequest.BodyPublishers.noBody());
            }
            try {
                HttpResponse<byte[]> resp = http.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
                if (resp.statusCode() >= 500 && resp.statusCode() != 501 && attempt < ATTEMPTS) {
                    last = new BmcException(
                            bmc, BmcException.Kind.REFUSED, method + " " + path + ": HTTP " + resp.statusCode());
                } else {
                    JsonNode json = resp.body().length == 0 ? Json.MAPPER.createObjectNode() : parse(resp.body());
                    return new Response(resp.statusCode(), json, resp.headers());
                }
            } catch (HttpTimeoutException | ConnectException e) {
                last = new BmcException(
                        bmc,
                        BmcException.Kind.UNREACHABLE,
                        "no answer to "
                                + method
                                + " "
                                + uri
                                + " within "
                                + bmc.timeout().toSeconds()
                                + " s ("
                                + e.getClass().getSimpleName()
                                + ")");
            } catch (javax.net.ssl.SSLHandshakeException e) {
                throw new BmcException(
                        bmc,
                        BmcException.Kind.REFUSED,
                        "TLS: the BMC's certificate is not trusted ("
                                + e.getMessage()
                                + "); give its CA as caFile, or insecure: true to skip the check");
            } catch (IOException e) {
                last = new BmcException(bmc, BmcException.Kind.UNREACHABLE, method + " " + uri + ": " + e.getMessage());
            }
            if (attempt < ATTEMPTS) {
                Thread.sleep(backoff);
                backoff *= 2;
            }
        }
        throw last;
    }

    private JsonNode parse(byte[] body) {
        try {
            return Json.MAPPER.readTree(body);
        } catch (IOException e) {
            return Json.MAPPER.createObjectNode().put("kilnUnparsed", new String(body, StandardCharsets.UTF_8));
        }
    }

    Response check(String what, Response r) throws BmcException {
        if (r.status() == 401 || r.status() == 403) {
            throw new BmcException(bmc, BmcException.Kind.AUTH, what + ": HTTP " + r.status() + message(r));
        }
        if (r.status() / 100 != 2) {
            throw refused(what, r);
        }
        return r;
    }

    BmcException refused(String what, Response r) {
        return new BmcException(bmc, BmcException.Kind.REFUSED, what + ": HTTP " + r.status() + message(r));
    }

    /** Redfish's error message, if the body has one. */
    static String message(Response r) {
        JsonNode m = r.body().path("error").path("@Message.ExtendedInfo");
        if (m.isArray() && m.size() > 0) {
            return ": " + m.get(0).path("Message").asText();
        }
        String msg = r.body().path("error").path("message").asText("");
        return msg.isEmpty() ? "" : ": " + msg;
    }

    /** Ends the session (BMCs have few session slots). */
    @Override
    public void close() {
        if (session != null && token != null) {
            try {
                send("DELETE", session.toString(), null, null, true);
            } catch (IOException e) {
                // the session times out on the BMC
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            token = null;
        }
    }

    /** insecure: true: no certificate or host name check at all. */
    private static final class TrustAnything extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, java.net.Socket socket) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, java.net.Socket socket) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
