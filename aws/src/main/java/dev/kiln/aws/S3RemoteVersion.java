package dev.kiln.aws;

import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.util.Hashing;
import java.util.HashMap;
import java.util.Map;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Why: "what of this version is in S3 already" decides whether a publish skips, resumes or refuses,
 * apart from how it uploads.
 */
final class S3RemoteVersion {
    private S3RemoteVersion() {}

    /**
     * The objects under the version's prefix. This first call also checks the bucket, the
     * credentials and the region; a manifest already there must be this very manifest.
     */
    static Map<String, S3Object> list(
            S3Client s3,
            S3Location dest,
            ImageRef ref,
            String versionPrefix,
            UploadItem manifestItem,
            String where,
            Progress progress)
            throws PublishException {
        Map<String, S3Object> existing = new HashMap<>();
        try (Progress.Step step = progress.step("check " + dest.url(ref))) {
            try {
                for (ListObjectsV2Response page :
                        s3.listObjectsV2Paginator(b -> b.bucket(dest.bucket()).prefix(versionPrefix))) {
                    for (S3Object o : page.contents()) {
                        existing.put(o.key(), o);
                    }
                }
            } catch (SdkException e) {
                step.failed();
                if (AwsErrors.is(e, "NoSuchBucket") || AwsErrors.status(e) == 404) {
                    throw new PublishException(
                            "bucket '"
                                    + dest.bucket()
                                    + "' does not exist (looked in "
                                    + where
                                    + "): create it first (aws s3 mb s3://"
                                    + dest.bucket()
                                    + ") or check --s3",
                            e);
                }
                throw AwsErrors.explain(e, "listing " + dest.url(ref), where);
            }
            if (existing.containsKey(manifestItem.key())) {
                String remote = Hashing.sha256(
                        s3.getObjectAsBytes(b -> b.bucket(dest.bucket()).key(manifestItem.key()))
                                .asByteArray());
                if (!remote.equals(manifestItem.sha256())) {
                    step.failed();
                    throw new PublishException(
                            dest.url(ref)
                                    + " already holds a different manifest for "
                                    + ref
                                    + " (sha256 "
                                    + remote.substring(0, 16)
                                    + "…, local "
                                    + manifestItem.sha256().substring(0, 16)
                                    + "…): versions are immutable, kiln does not overwrite it; publish under another version or prefix");
                }
                step.detail("already published");
            }
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "reading " + dest.url(ref), where);
        }
        return existing;
    }

    /**
     * True if the object at the item's key holds the item's content (by its sha256 metadata and
     * size).
     */
    static boolean matches(S3Client s3, String bucket, UploadItem i, String where) throws PublishException {
        try {
            HeadObjectResponse h = s3.headObject(b -> b.bucket(bucket).key(i.key()));
            return i.sha256().equals(h.metadata().get(S3Location.SHA256_METADATA)) && h.contentLength() == i.size();
        } catch (SdkException e) {
            if (AwsErrors.status(e) == 404) {
                return false;
            }
            throw AwsErrors.explain(e, "reading s3://" + bucket + "/" + i.key(), where);
        }
    }
}
