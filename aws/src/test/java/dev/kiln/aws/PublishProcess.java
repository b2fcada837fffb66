package dev.kiln.aws;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;

/**
 * A publish in its own JVM, so a test can kill it with SIGKILL midway. Prints one line per object,
 * part and block written (flushed), which the test watches to choose the moment. Args: s3|ami
 * ENDPOINT STORE NAME:VERSION (s3: BUCKET_URL | ami: REGION COPY_TO).
 */
public final class PublishProcess {
    private PublishProcess() {}

    public static void main(String[] args) throws Exception {
        AwsSettings settings = new AwsSettings(
                "us-east-1",
                URI.create(args[1]),
                null,
                StaticCredentialsProvider.create(
                        AwsBasicCredentials.create("AKIAKILNTEST00000000", "kiln-test-secret")));
        ImageStore store = new ImageStore(Path.of(args[2]));
        ImageRef ref = ImageRef.parse(args[3]);
        PublishListener printer = new PublishListener() {
            @Override
            public synchronized void objectUploaded(String key, long size) {
                System.out.println("object " + key);
                System.out.flush();
            }

            @Override
            public synchronized void partUploaded(String key, int partNumber) {
                System.out.println("part " + key + " " + partNumber);
                System.out.flush();
                slow();
            }

            @Override
            public synchronized void blockUploaded(String snapshotId, int blockIndex) {
                System.out.println("block " + snapshotId + " " + blockIndex);
                System.out.flush();
                slow();
            }
        };
        try (AwsClients clients = new AwsClients(settings, 4)) {
            if (args[0].equals("s3")) {
                new S3Publisher(clients, Progress.SILENT, printer)
                        .workers(1)
                        .multipart(8 << 20, 5 << 20)
                        .publish(store, ref, S3Location.parse(args[4]));
            } else {
                new AmiPublisher(clients, Progress.SILENT, printer)
                        .workers(1)
                        .polling(Duration.ofMillis(200), Duration.ofMinutes(1))
                        .publish(store, ref, new AmiPublisher.Options(args[4], List.of(args[5]), List.of(), null));
            }
        }
        System.out.println("done");
    }

    /** Gives the watching test time to kill this process between two writes. */
    private static void slow() {
        try {
            Thread.sleep(300);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
