package dev.kiln.aws;

import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.ssm.SsmClient;
import software.amazon.awssdk.services.ssm.model.ParameterType;

/**
 * SSM parameters {@code /kiln/images/NAME/CHANNEL} of data type {@code aws:ec2:image} in one
 * region, each holding an AMI id, as EKS and Bottlerocket publish theirs: launch templates and
 * Terraform resolve them. {@code kiln publish --ami} points {@code latest}; {@code kiln promote}
 * points the environments.
 */
public final class SsmImagePointer {
    private final SsmClient ssm;
    private final String where;

    /**
     * @param where the region (and endpoint) for error messages
     */
    public SsmImagePointer(SsmClient ssm, String where) {
        this.ssm = ssm;
        this.where = where;
    }

    /** The parameter for an image's channel: {@code latest} or an environment. */
    public static String parameter(String image, String channel) {
        return "/kiln/images/" + image + "/" + channel;
    }

    /** The AMI id the parameter holds; null when there is no such parameter. */
    public String current(String param) throws PublishException {
        try {
            return ssm.getParameter(b -> b.name(param)).parameter().value();
        } catch (SdkException e) {
            if (AwsErrorCode.PARAMETER_NOT_FOUND.matches(e)) {
                return null;
            }
            throw AwsErrors.explain(e, "reading SSM parameter " + param, where);
        }
    }

    /**
     * Points the parameter at the AMI, making it if it does not exist (each write is a new
     * parameter version).
     */
    public void point(String param, String imageId, String description) throws PublishException {
        try {
            ssm.putParameter(b -> b.name(param)
                    .value(imageId)
                    .type(ParameterType.STRING)
                    .dataType("aws:ec2:image")
                    .overwrite(true)
                    .description(description));
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "pointing SSM parameter " + param + " at " + imageId, where);
        }
    }
}
