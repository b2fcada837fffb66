package dev.kiln.aws;

import software.amazon.awssdk.core.exception.SdkException;

/**
 * The service error codes the AMI publish acts on, matched on the SDK's {@code
 * AwsServiceException.awsErrorDetails().errorCode()} (never on message text).
 */
enum AwsErrorCode {
    SNAPSHOT_NOT_FOUND("InvalidSnapshot.NotFound"),
    /** RegisterImage: the account already has an AMI of that name in the region. */
    AMI_NAME_DUPLICATE("InvalidAMIName.Duplicate"),
    PARAMETER_NOT_FOUND("ParameterNotFound");

    final String code;

    AwsErrorCode(String code) {
        this.code = code;
    }

    boolean matches(Throwable e) {
        return code.equals(AwsErrors.code(e));
    }

    /**
     * The service refused the request for what it asked (a 4xx that is not about credentials,
     * permissions or throttling), so asking again cannot help. Anything else (network, 5xx,
     * throttling, bad credentials) says nothing about the resource.
     */
    static boolean refused(SdkException e) {
        int status = AwsErrors.status(e);
        String code = String.valueOf(AwsErrors.code(e));
        return status >= 400
                && status < 500
                && !AwsErrors.BAD_CREDENTIALS.contains(code)
                && !AwsErrors.DENIED.contains(code)
                && !code.contains("Throttl");
    }
}
