package dev.kiln.aws;

import dev.kiln.core.progress.Progress;
import java.util.function.Supplier;
import software.amazon.awssdk.core.exception.SdkException;

/**
 * One SDK call whose failure becomes a {@link PublishException} saying what kiln was doing, and
 * where.
 */
final class AwsCall {
    private AwsCall() {}

    /**
     * @param step marked failed when the call fails; null for none
     */
    static <T> T call(Progress.Step step, String doing, String where, Supplier<T> call) throws PublishException {
        try {
            return call.get();
        } catch (SdkException e) {
            if (step != null) {
                step.failed();
            }
            throw AwsErrors.explain(e, doing, where);
        }
    }
}
