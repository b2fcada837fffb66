package dev.kiln.aws;

import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting on parallel upload tasks. */
final class Tasks {
    private Tasks() {}

    /** The task's result; an IOException or RuntimeException it threw is rethrown as it was. */
    static <T> T result(Future<T> f) throws IOException, InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(c);
        }
    }
}
