package dev.kiln.aws;

import java.net.URI;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.RegionMetadata;
import software.amazon.awssdk.regions.providers.AwsProfileRegionProvider;
import software.amazon.awssdk.regions.providers.AwsRegionProviderChain;
import software.amazon.awssdk.regions.providers.SystemSettingsRegionProvider;

/**
 * Where and as whom to talk to AWS, the SDK's way: credentials from the default chain (environment,
 * system properties, ~/.aws/credentials and config, SSO, web identity, container and instance
 * roles) or a named profile; the region from {@code --region}, else AWS_REGION, else the profile's.
 * {@code endpoint} points every service at one URL (an emulator such as moto).
 */
public record AwsSettings(String region, URI endpoint, String profile, AwsCredentialsProvider credentials) {

    public static AwsSettings defaults() {
        return new AwsSettings(null, null, null, null);
    }

    public AwsSettings withRegion(String r) {
        return new AwsSettings(r, endpoint, profile, credentials);
    }

    /** The credentials provider: the given one, the profile's, or the SDK's default chain. */
    public AwsCredentialsProvider credentialsProvider() {
        if (credentials != null) {
            return credentials;
        }
        if (profile != null) {
            return ProfileCredentialsProvider.builder().profileName(profile).build();
        }
        return DefaultCredentialsProvider.builder().build();
    }

    /**
     * The home region: --region, else AWS_REGION / aws.region, else the profile's region. Instance
     * metadata is not asked (it would stall for seconds off EC2). Checked against the regions this
     * SDK knows.
     */
    public Region homeRegion() throws PublishException {
        if (region != null && !region.isBlank()) {
            return checkRegion(region, "--region");
        }
        try {
            Region r = new AwsRegionProviderChain(
                            new SystemSettingsRegionProvider(), new AwsProfileRegionProvider(null, profile))
                    .getRegion();
            return checkRegion(r.id(), "the configured region (AWS_REGION or the profile's)");
        } catch (SdkClientException e) {
            throw new PublishException(
                    "no AWS region given: pass --region, or set AWS_REGION, or a region in the profile"
                            + (profile != null ? " '" + profile + "'" : "")
                            + " (~/.aws/config)");
        }
    }

    /** A region this SDK knows, else a clear error that names it and where it came from. */
    public static Region checkRegion(String id, String from) throws PublishException {
        String trimmed = id.trim().toLowerCase(Locale.ROOT);
        Region r = Region.of(trimmed);
        if (trimmed.isEmpty() || RegionMetadata.of(r) == null || r.isGlobalRegion()) {
            Set<String> known = new TreeSet<>();
            for (Region k : Region.regions()) {
                if (!k.isGlobalRegion() && RegionMetadata.of(k) != null) {
                    known.add(k.id());
                }
            }
            throw new PublishException(
                    "unknown AWS region '" + id + "' (from " + from + "); known regions: " + String.join(", ", known));
        }
        return r;
    }
}
