package dev.kiln.cli;

import dev.kiln.aws.AmiPublisher;
import dev.kiln.aws.AwsClients;
import dev.kiln.aws.AwsSettings;
import dev.kiln.aws.PublishListener;
import dev.kiln.aws.S3Location;
import dev.kiln.aws.S3Publisher;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "publish",
        mixinStandardHelpOptions = true,
        description = {
            "Publishes an image version to an S3 artifact store and/or as an AMI.",
            "--s3: every artifact, then manifest.json last (readers never see a version",
            "  with missing parts). What is there is never overwritten; a re-run after a",
            "  crash completes the upload.",
            "--ami: disk.raw becomes an EBS snapshot through the EBS direct APIs (zero",
            "  blocks skipped), then an AMI (x86_64, ENA, uefi-preferred, gp3 /dev/xvda,",
            "  IMDSv2 only; root volume --volume-size GiB, nodes grow their root into",
            "  it at first boot), copied to --copy-to regions, shared with --share-with",
            "  accounts; the SSM parameter /kiln/images/NAME/latest points at it. Re-runs",
            "  find what earlier runs made by its tags and never make a duplicate.",
            "Credentials and region: the AWS SDK's (environment, ~/.aws, AWS_PROFILE).",
            "Where it went is recorded in published.json next to the manifest (kiln inspect)."
        },
        footer = {
            "",
            "Examples:",
            "  kiln publish debian-node:1.0.0-20261127.1 --s3 s3://my-images/kiln",
            "  kiln publish debian-node:1.0.0-20261127.1 --ami --region eu-west-1 \\",
            "      --copy-to us-east-1,us-west-2 --share-with 111122223333",
            "  kiln publish debian-node:1.0.0-20261127.1 --ami --volume-size 20   # 20 GiB root volume",
            "  kiln publish debian-node:1.0.0-20261127.1 --s3 s3://images \\",
            "      --endpoint-url http://127.0.0.1:5000"
        })
final class PublishCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Option(
            names = "--s3",
            paramLabel = "s3://BUCKET[/PREFIX]",
            description = "Upload the version to PREFIX/NAME/VERSION/ in this bucket.")
    String s3;

    @Option(names = "--ami", description = "Make an AMI of disk/disk.raw.")
    boolean ami;

    @Option(
            names = "--copy-to",
            split = ",",
            paramLabel = "REGION",
            description = "With --ami: copy the AMI to these regions too.")
    List<String> copyTo = List.of();

    @Option(
            names = "--share-with",
            split = ",",
            paramLabel = "ACCOUNT",
            description = "With --ami: give these AWS accounts launch permission.")
    List<String> shareWith = List.of();

    @Option(
            names = "--ssm-parameter",
            paramLabel = "NAME",
            description =
                    "With --ami: the SSM parameter to point at the AMI in every region (default: /kiln/images/NAME/latest; '' for none).")
    String ssmParameter;

    @Option(
            names = "--volume-size",
            paramLabel = "GiB",
            description = "With --ami: the AMI's default root volume size "
                    + "in GiB, at least the snapshot's (disk.raw rounded up to whole GiB; the default). Instances grow their "
                    + "root partition and filesystem into it at first boot.")
    Integer volumeSize;

    @Option(
            names = "--workers",
            defaultValue = "8",
            paramLabel = "N",
            description = "Parallel S3 uploads, objects and parts (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(
            names = "--block-workers",
            defaultValue = "16",
            paramLabel = "N",
            description = "Parallel 512 KiB snapshot block uploads (default: ${DEFAULT-VALUE}).")
    int blockWorkers;

    @Mixin
    AwsOptions aws;

    @Mixin
    StoreOption store;

    @Override
    public Integer call() throws Exception {
        if (s3 == null && !ami) {
            throw new IllegalArgumentException("say where to publish: --s3 s3://BUCKET[/PREFIX] and/or --ami");
        }
        if (!ami && (!copyTo.isEmpty() || !shareWith.isEmpty() || ssmParameter != null || volumeSize != null)) {
            throw new IllegalArgumentException(
                    "--copy-to, --share-with, --ssm-parameter and --volume-size go with --ami");
        }
        ImageStore images = store.open();
        ImageRef r = ImageRef.parse(ref);
        images.manifest(r); // a clear error for a version the store lacks
        S3Location dest = s3 != null ? S3Location.parse(s3) : null;
        AwsSettings settings = aws.settings();
        ConsoleProgress progress = new ConsoleProgress(System.out, System.console() != null);
        try (AwsClients clients = new AwsClients(settings, Math.max(workers, blockWorkers))) {
            if (dest != null) {
                S3Publisher.Result res = new S3Publisher(clients, progress, PublishListener.NONE)
                        .workers(workers)
                        .publish(images, r, dest);
                System.out.println(
                        res.alreadyPublished()
                                ? "already published: " + res.url() + " (nothing uploaded)"
                                : String.format(
                                        "published %s to %s: %d objects uploaded, %d already there, %s sent%s",
                                        r,
                                        res.url(),
                                        res.uploaded(),
                                        res.skipped(),
                                        Format.size(res.bytesSent()),
                                        res.abortedUploads() > 0
                                                ? ", " + res.abortedUploads() + " stale multipart uploads aborted"
                                                : ""));
            }
            if (ami) {
                AmiPublisher.Result res = new AmiPublisher(clients, progress, PublishListener.NONE)
                        .workers(blockWorkers)
                        .publish(
                                images,
                                r,
                                new AmiPublisher.Options(aws.region, copyTo, shareWith, ssmParameter, volumeSize));
                if (res.snapshotWritten()) {
                    System.out.printf(
                            "snapshot %s: %d blocks of 512 KiB written, %s sent for a %s disk (zero blocks skipped)%n",
                            res.snapshotId(),
                            res.blocksWritten(),
                            Format.size(res.bytesSent()),
                            Format.size(res.diskBytes()));
                }
                res.images().forEach((reg, id) -> System.out.println("ami " + reg + " " + id));
                if (res.ssmParameter() != null) {
                    System.out.println("ssm " + res.ssmParameter());
                }
                System.out.println(
                        res.created().isEmpty()
                                ? "nothing new was created (already published)"
                                : "created: " + String.join(" ", res.created()));
            }
        }
        return 0;
    }
}
