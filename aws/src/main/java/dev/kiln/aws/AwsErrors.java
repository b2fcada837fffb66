package dev.kiln.aws;

import java.net.ConnectException;
import java.net.UnknownHostException;
import java.util.Set;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;

/**
 * Turns SDK exceptions into messages that say what failed and what to check. Public for kiln
 * serve's S3 store (fleet), which reads what publish wrote.
 */
public final class AwsErrors {
    private AwsErrors() {}

    static final Set<String> BAD_CREDENTIALS = Set.of(
            "InvalidAccessKeyId",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "AuthFailure",
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "MissingAuthenticationToken",
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidToken",
            "RequestExpired",
            "InvalidSignatureException",
            "TokenRefreshRequired");
    static final Set<String> DENIED = Set.of(
            "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "OptInRequired", "Blocked");

    static final String CREDENTIALS_HINT = "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, "
            + "AWS_PROFILE or --profile, ~/.aws/credentials, and the clock (signatures expire)";

    public static String code(Throwable e) {
        if (e instanceof AwsServiceException ase && ase.awsErrorDetails() != null) {
            return ase.awsErrorDetails().errorCode();
        }
        return null;
    }

    public static int status(Throwable e) {
        return e instanceof AwsServiceException ase ? ase.statusCode() : -1;
    }

    public static boolean is(Throwable e, String... codes) {
        String c = code(e);
        for (String want : codes) {
            if (want.equals(c)) {
                return true;
            }
        }
        return false;
    }

    /**
     * A message for a failed call: {@code doing} says what kiln was doing ("listing s3://b/p/"),
     * {@code where} names the region or endpoint.
     */
    public static PublishException explain(SdkException e, String doing, String where) {
        if (e instanceof AwsServiceException ase) {
            String code = code(ase);
            String msg = ase.awsErrorDetails() != null && ase.awsErrorDetails().errorMessage() != null
                    ? ase.awsErrorDetails().errorMessage()
                    : ase.getMessage();
            String detail = (code != null ? code : "HTTP " + ase.statusCode()) + ": " + msg;
            if (code != null && BAD_CREDENTIALS.contains(code)) {
                return new PublishException(
                        "AWS rejected the credentials while "
                                + doing
                                + " in "
                                + where
                                + " ("
                                + detail
                                + "); "
                                + CREDENTIALS_HINT,
                        e);
            }
            if ((code != null && DENIED.contains(code)) || (code == null && ase.statusCode() == 403)) {
                return new PublishException(
                        "access denied while "
                                + doing
                                + " in "
                                + where
                                + " ("
                                + detail
                                + "): the credentials are wrong, or their identity lacks the permission; "
                                + CREDENTIALS_HINT
                                + ", and the IAM policy",
                        e);
            }
            return new PublishException(doing + " failed in " + where + ": " + detail, e);
        }
        if (e instanceof SdkClientException) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("Unable to load credentials") || m.contains("Unable to load an identity")) {
                int detail = m.indexOf(" : [");
                String why = m.startsWith("Unable to load credentials from any of the providers in the chain")
                        ? "none of the SDK's default providers has any (environment, system properties, web identity,"
                                + " profile, container, instance metadata)"
                        : firstLine(detail > 0 ? m.substring(0, detail) : m);
                return new PublishException(
                        "no usable AWS credentials while " + doing + ": " + why + "; " + CREDENTIALS_HINT, e);
            }
            Throwable root = rootCause(e);
            if (root instanceof UnknownHostException) {
                return new PublishException(
                        "cannot reach AWS while "
                                + doing
                                + ": unknown host "
                                + root.getMessage()
                                + " (check the region "
                                + where
                                + ", --endpoint-url and the network)",
                        e);
            }
            if (root instanceof ConnectException) {
                return new PublishException(
                        "cannot connect while "
                                + doing
                                + " ("
                                + where
                                + "): "
                                + root.getMessage()
                                + " (check --endpoint-url and the network)",
                        e);
            }
            return new PublishException(doing + " failed (" + where + "): " + firstLine(m), e);
        }
        return new PublishException(doing + " failed (" + where + "): " + e.getMessage(), e);
    }

    private static Throwable rootCause(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
