package dev.kiln.aws;

import dev.kiln.core.store.ImageRef;

/** {@code s3://bucket/prefix}: where published versions live, as {@code PREFIX/NAME/VERSION/...}. */
public record S3Location(String bucket, String prefix) {
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

    public String url(ImageRef ref) {
        return "s3://" + bucket + "/" + versionPrefix(ref);
    }

    @Override
    public String toString() {
        return "s3://" + bucket + "/" + prefix;
    }
}
