package dev.kiln.aws;

import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * An opened S3 store (what kiln publish --s3 writes): its location, an S3 client of the home
 * region, and how error messages name it ({@code where}: "region us-east-1", with the endpoint when
 * one was given). The readers of a store (kiln serve's and validate's source, promotion records,
 * prune) open it here, so all of them check it the same way. Close it to release the clients.
 */
public record S3Store(S3Location location, AwsClients clients, S3Client s3, String where) implements AutoCloseable {

    /**
     * Checks the bucket (and with it credentials and region) once, so a typo fails at start rather
     * than as every image "missing": S3 answers HEAD of a key in a missing bucket with a bare 404.
     */
    public static S3Store open(S3Location location, AwsSettings settings) throws PublishException {
        Region region = settings.homeRegion();
        String where = "region "
                + region.id()
                + (settings.endpoint() != null ? " (endpoint " + settings.endpoint() + ")" : "");
        AwsClients clients = new AwsClients(settings, 4);
        try {
            S3Client s3 = clients.s3(region);
            try {
                s3.headBucket(b -> b.bucket(location.bucket()));
            } catch (SdkException e) {
                if (AwsErrors.status(e) == 404 || AwsErrors.is(e, "NoSuchBucket")) {
                    throw new PublishException(
                            "bucket '"
                                    + location.bucket()
                                    + "' does not exist (looked in "
                                    + where
                                    + "): check --store",
                            e);
                }
                throw AwsErrors.explain(e, "opening the S3 store " + location, where);
            }
            return new S3Store(location, clients, s3, where);
        } catch (PublishException | RuntimeException e) {
            clients.close();
            throw e;
        }
    }

    /**
     * The names directly under the store's prefix (one per image, plus whatever else sits there):
     * what both the promotion records and prune start from.
     */
    public java.util.List<String> imageNames() throws PublishException {
        java.util.List<String> names = new java.util.ArrayList<>();
        try {
            for (var page : s3.listObjectsV2Paginator(
                    b -> b.bucket(location.bucket()).prefix(location.prefix()).delimiter("/"))) {
                for (var p : page.commonPrefixes()) {
                    names.add(p.prefix()
                            .substring(location.prefix().length(), p.prefix().length() - 1));
                }
            }
        } catch (software.amazon.awssdk.core.exception.SdkException e) {
            throw AwsErrors.explain(e, "listing images in " + location, where);
        }
        return names;
    }

    @Override
    public void close() {
        clients.close();
    }
}
