package dev.kiln.aws;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;

/**
 * {@code s3://bucket/prefix}, and the one definition of the S3 layout that kiln publish writes and
 * kiln serve, kiln validate and promotion read: a version lives under {@code PREFIX/NAME/VERSION/},
 * its artifacts at their manifest paths, {@code manifest.json} (written last) marks it complete,
 * and every object carries its sha256 as user metadata {@value #SHA256_METADATA}.
 */
public record S3Location(String bucket, String prefix) {
    /** User metadata key (x-amz-meta-kiln-sha256): hex sha256 of the object. */
    public static final String SHA256_METADATA = "kiln-sha256";

    public static S3Location parse(String url) {
        if (url == null || !url.startsWith("s3://") || url.length() <= 5) {
            throw new IllegalArgumentException("expected s3://BUCKET[/PREFIX], got '" + url + "'");
        }
        String rest = url.substring(5);
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1);
        if (!bucket.matches("[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]")) {
            throw new IllegalArgumentException("'" + bucket + "' is not a valid S3 bucket name (in " + url + ")");
        }
        prefix = prefix.replaceAll("/+", "/");
        if (prefix.startsWith("/")) {
            prefix = prefix.substring(1);
        }
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix += "/";
        }
        return new S3Location(bucket, prefix);
    }

    /** The key prefix of one version, ending in '/'. */
    public String versionPrefix(ImageRef ref) {
        return prefix + ref.name() + "/" + ref.version() + "/";
    }

    /** The key of a file of the version: an artifact path from its manifest, or manifest.json. */
    public String key(ImageRef ref, String path) {
        return versionPrefix(ref) + path;
    }

    /** The key whose existence means the version is published completely. */
    public String manifestKey(ImageRef ref) {
        return key(ref, ImageStore.MANIFEST);
    }

    public String url(ImageRef ref) {
        return "s3://" + bucket + "/" + versionPrefix(ref);
    }

    @Override
    public String toString() {
        return "s3://" + bucket + "/" + prefix;
    }
}
