package dev.kiln.aws;

import java.io.IOException;

/** A publish that cannot go on, with a message that says what to check. */
public class PublishException extends IOException {
    public PublishException(String message) {
        super(message);
    }

    public PublishException(String message, Throwable cause) {
        super(message, cause);
    }
}
