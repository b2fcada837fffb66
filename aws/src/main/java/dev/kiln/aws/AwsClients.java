package dev.kiln.aws;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.awscore.client.builder.AwsClientBuilder;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.autoscaling.AutoScalingClient;
import software.amazon.awssdk.services.ebs.EbsClient;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.ssm.SsmClient;

/**
 * The service clients of one publish, per region, sharing one HTTP connection pool sized for the
 * parallel uploads. Close it to release the pool.
 */
public final class AwsClients implements AutoCloseable {
    private final AwsSettings settings;
    private final AwsCredentialsProvider credentials;
    private final SdkHttpClient http;
    private final Map<String, AutoCloseable> clients = new ConcurrentHashMap<>();
    private final List<ExecutionInterceptor> interceptors;

    public AwsClients(AwsSettings settings, int parallelism) {
        this(settings, parallelism, List.of());
    }

    /**
     * With SDK interceptors on every client: tests use them to make the emulator answer as AWS does
     * where it cannot (a snapshot in error, a completed snapshot refusing blocks).
     */
    public AwsClients(AwsSettings settings, int parallelism, List<ExecutionInterceptor> interceptors) {
        this.settings = settings;
        this.interceptors = List.copyOf(interceptors);
        this.credentials = settings.credentialsProvider();
        this.http = ApacheHttpClient.builder()
                .maxConnections(Math.max(8, parallelism + 4))
                .connectionTimeout(Duration.ofSeconds(10))
                .socketTimeout(Duration.ofSeconds(120))
                .build();
    }

    public AwsSettings settings() {
        return settings;
    }

    private <B extends AwsClientBuilder<B, C>, C> C configure(B builder, Region region) {
        builder.region(region).credentialsProvider(credentials);
        if (settings.endpoint() != null) {
            builder.endpointOverride(settings.endpoint());
        }
        return builder.overrideConfiguration(ClientOverrideConfiguration.builder()
                        // Throttling and 5xx are retried with backoff; a block or part
                        // upload is cheap to redo.
                        .retryStrategy(b -> b.maxAttempts(6))
                        .executionInterceptors(interceptors)
                        .build())
                .build();
    }

    @SuppressWarnings("unchecked")
    private <C extends AutoCloseable> C cached(String key, java.util.function.Supplier<C> make) {
        return (C) clients.computeIfAbsent(key, k -> make.get());
    }

    public S3Client s3(Region region) {
        return cached(
                "s3/" + region.id(),
                () -> configure(
                        S3Client.builder()
                                .httpClient(http)
                                // Emulators answer on one host: no virtual-hosted bucket
                                // names there.
                                .forcePathStyle(settings.endpoint() != null)
                                // A bucket in another region than --region is followed, not
                                // an error.
                                .crossRegionAccessEnabled(true)
                                // kiln sends its own SHA-256 checksums as headers; no
                                // SDK-added CRC32 trailers.
                                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED),
                        region));
    }

    public EbsClient ebs(Region region) {
        return cached("ebs/" + region.id(), () -> configure(EbsClient.builder().httpClient(http), region));
    }

    public Ec2Client ec2(Region region) {
        return cached("ec2/" + region.id(), () -> configure(Ec2Client.builder().httpClient(http), region));
    }

    public AutoScalingClient autoScaling(Region region) {
        return cached(
                "autoscaling/" + region.id(),
                () -> configure(AutoScalingClient.builder().httpClient(http), region));
    }

    public SsmClient ssm(Region region) {
        return cached("ssm/" + region.id(), () -> configure(SsmClient.builder().httpClient(http), region));
    }

    @Override
    public void close() {
        for (AutoCloseable c : clients.values()) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing a client releases nothing we still need
            }
        }
        clients.clear();
        http.close();
    }
}
