package dev.kiln.aws;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.model.Container;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * The AWS emulator of the "aws" tests: moto in server mode, from the local image kiln-moto:1
 * (ci/moto-image.sh builds it; nothing is pulled). One container per test class, stopped by close()
 * and, after Ctrl-C, by a shutdown hook; containers carry the label kiln.test=1 and the test JVM's
 * pid, and a leftover of a JVM that died (kill -9) is removed by the next start.
 */
public final class Moto implements AutoCloseable {
    static final String IMAGE = "kiln-moto:1";
    static final String LABEL = "kiln.test";
    static final String PID_LABEL = "kiln.test.pid";

    private final GenericContainer<?> container;
    private final Thread hook;
    private final HttpClient http = HttpClient.newHttpClient();

    private Moto(GenericContainer<?> container) {
        this.container = container;
        this.hook = new Thread(container::stop, "stop-moto");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    private static Moto shared;

    /**
     * One emulator for the whole test JVM (tests call {@link #reset} between them); it is stopped
     * when the JVM exits. Starting a container per test class only cost time.
     */
    public static synchronized Moto shared() {
        if (shared == null) {
            shared = start();
        }
        return shared;
    }

    public static Moto start() {
        if (!"true".equals(System.getenv("TESTCONTAINERS_RYUK_DISABLED"))) {
            throw new IllegalStateException(
                    "set TESTCONTAINERS_RYUK_DISABLED=true (the ryuk image cannot be pulled here;"
                            + " builder/pom.xml sets it for surefire)");
        }
        if (!DockerClientFactory.instance().isDockerAvailable()) {
            throw new IllegalStateException("the aws tests need a Docker daemon: run ci/start-dockerd.sh"
                    + " (or exclude them: -DexcludedGroups=aws)");
        }
        DockerClient docker = DockerClientFactory.instance().client();
        try {
            docker.inspectImageCmd(IMAGE).exec();
        } catch (com.github.dockerjava.api.exception.NotFoundException e) {
            throw new IllegalStateException(
                    "no local image " + IMAGE + ": run ci/moto-image.sh once on this machine", e);
        }
        sweepLeftovers(docker);
        GenericContainer<?> c = new GenericContainer<>(DockerImageName.parse(IMAGE))
                .withExposedPorts(5000)
                .withLabel(LABEL, "1")
                .withLabel(PID_LABEL, String.valueOf(ProcessHandle.current().pid()))
                .waitingFor(Wait.forHttp("/moto-api/")
                        .forPort(5000)
                        .forStatusCode(200)
                        .withStartupTimeout(Duration.ofSeconds(90)));
        c.start();
        return new Moto(c);
    }

    /**
     * Removes kiln.test containers whose owning process is gone (a test JVM killed before it could
     * stop them).
     */
    private static void sweepLeftovers(DockerClient docker) {
        List<Container> all = docker.listContainersCmd()
                .withShowAll(true)
                .withLabelFilter(Map.of(LABEL, "1"))
                .exec();
        for (Container c : all) {
            // Only containers that name their owner (test JVMs, bench/publish.sh): a live owner
            // keeps it.
            String pid = c.getLabels().get(PID_LABEL);
            if (pid == null || !pid.matches("\\d+")) {
                continue;
            }
            if (!ProcessHandle.of(Long.parseLong(pid))
                    .map(ProcessHandle::isAlive)
                    .orElse(false)) {
                docker.removeContainerCmd(c.getId()).withForce(true).exec();
            }
        }
    }

    public URI endpoint() {
        return URI.create("http://" + container.getHost() + ":" + container.getMappedPort(5000));
    }

    /**
     * Settings with moto's endpoint and fixed test credentials (moto accepts any unless auth is
     * on).
     */
    public AwsSettings settings(String region) {
        return new AwsSettings(
                region,
                endpoint(),
                null,
                StaticCredentialsProvider.create(
                        AwsBasicCredentials.create("AKIAKILNTEST00000000", "kiln-test-secret")));
    }

    AwsSettings settings(String region, String accessKey, String secret) {
        return new AwsSettings(
                region,
                endpoint(),
                null,
                StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secret)));
    }

    /**
     * Starts from an empty moto and publishes one version of {@code store} to {@code to} (bucket
     * created), as kiln publish --s3 would: for tests of what reads images from S3.
     */
    public void publishedS3Store(dev.kiln.core.store.ImageStore store, dev.kiln.core.store.ImageRef ref, S3Location to)
            throws Exception {
        try (AwsClients clients = freshClients("us-east-1", 8)) {
            clients.s3(software.amazon.awssdk.regions.Region.US_EAST_1).createBucket(b -> b.bucket(to.bucket()));
            new S3Publisher(clients, dev.kiln.core.progress.Progress.SILENT, PublishListener.NONE)
                    .publish(store, ref, to);
        }
    }

    /** Clients of an empty moto: every resource of earlier tests forgotten. */
    public AwsClients freshClients(String region, int threads) {
        reset();
        return new AwsClients(settings(region), threads);
    }

    /** Forgets every resource in every region (between tests). */
    public void reset() {
        post("/moto-api/reset", "");
    }

    /**
     * Turns moto's IAM authentication on (0: every following call must be signed by a key that
     * exists in moto's IAM, so any test key is rejected) or off ("inf").
     */
    void authAfter(String count) {
        post("/moto-api/reset-auth", count);
    }

    private void post(String path, String body) {
        try {
            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(endpoint().resolve(path))
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                throw new IllegalStateException(path + ": HTTP " + r.statusCode() + " " + r.body());
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            container.stop();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running
            }
        }
    }
}
