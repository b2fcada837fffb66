package dev.kiln.cli;

import dev.kiln.aws.AwsSettings;
import java.net.URI;
import picocli.CommandLine.Option;

/** --region, --profile, --endpoint-url: how every command that talks to AWS finds it. */
final class AwsOptions {
    @Option(
            names = "--region",
            paramLabel = "REGION",
            description = "AWS region (default: AWS_REGION or the profile's).")
    String region;

    @Option(
            names = "--profile",
            paramLabel = "PROFILE",
            description = "AWS profile (default: AWS_PROFILE, else 'default').")
    String profile;

    @Option(
            names = "--endpoint-url",
            paramLabel = "URL",
            description = "Send every AWS call here (an emulator such as moto).")
    URI endpointUrl;

    /** Credentials and region the AWS SDK way, with these overrides. */
    AwsSettings settings() {
        return new AwsSettings(region, endpointUrl, profile, null);
    }

    boolean anySet() {
        return region != null || profile != null || endpointUrl != null;
    }
}
