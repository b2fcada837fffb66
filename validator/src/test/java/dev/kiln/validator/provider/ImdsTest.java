package dev.kiln.validator.provider;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The IMDSv2 subset qemu-disk nodes use, with EC2's answers. */
class ImdsTest {
    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void userDataNeedsATokenAndGoesOnlyToTheAddressItBelongsTo() throws Exception {
        byte[] doc = "{\"name\":\"m1\"}".getBytes(StandardCharsets.UTF_8);
        try (Imds imds = Imds.start("127.0.0.1", Map.of("127.0.0.1", doc), line -> {})) {
            String base = "http://127.0.0.1:" + imds.port();

            assertThat(send(HttpRequest.newBuilder(URI.create(base + "/latest/user-data")))
                            .statusCode())
                    .isEqualTo(401);
            assertThat(send(HttpRequest.newBuilder(URI.create(base + "/latest/api/token"))
                                    .PUT(HttpRequest.BodyPublishers.noBody()))
                            .statusCode())
                    .isEqualTo(400); // no TTL
            HttpResponse<String> token = send(HttpRequest.newBuilder(URI.create(base + "/latest/api/token"))
                    .header("X-aws-ec2-metadata-token-ttl-seconds", "300")
                    .PUT(HttpRequest.BodyPublishers.noBody()));
            assertThat(token.statusCode()).isEqualTo(200);
            assertThat(send(HttpRequest.newBuilder(URI.create(base + "/latest/user-data"))
                                    .header("X-aws-ec2-metadata-token", "forged"))
                            .statusCode())
                    .isEqualTo(401);

            HttpResponse<String> data = send(HttpRequest.newBuilder(URI.create(base + "/latest/user-data"))
                    .header("X-aws-ec2-metadata-token", token.body()));
            assertThat(data.statusCode()).isEqualTo(200);
            assertThat(data.body()).isEqualTo("{\"name\":\"m1\"}");
            assertThat(send(HttpRequest.newBuilder(URI.create(base + "/latest/meta-data/instance-id"))
                                    .header("X-aws-ec2-metadata-token", token.body()))
                            .statusCode())
                    .isEqualTo(404);
        }
    }

    @Test
    void anAddressWithoutUserDataGets404() throws Exception {
        try (Imds imds = Imds.start("127.0.0.1", Map.of("10.0.0.9", new byte[] {'{', '}'}), line -> {})) {
            String base = "http://127.0.0.1:" + imds.port();
            HttpResponse<String> token = send(HttpRequest.newBuilder(URI.create(base + "/latest/api/token"))
                    .header("X-aws-ec2-metadata-token-ttl-seconds", "60")
                    .PUT(HttpRequest.BodyPublishers.noBody()));

            assertThat(send(HttpRequest.newBuilder(URI.create(base + "/latest/user-data"))
                                    .header("X-aws-ec2-metadata-token", token.body()))
                            .statusCode())
                    .isEqualTo(404);
        }
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
