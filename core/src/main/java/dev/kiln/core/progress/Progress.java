package dev.kiln.core.progress;

/**
 * Where long work reports what it is doing. Steps print one line each with their duration; inside a
 * step, {@link #detail} and {@link #fraction} drive a live status line on a terminal.
 */
public interface Progress {
    /** Starts a named step; closing the returned handle ends it and prints its duration. */
    Step step(String name);

    interface Step extends AutoCloseable {
        /** Latest free-text status from inside the step (e.g. the tool's last output line). */
        void detail(String text);

        /** Completed share of the step, 0.0 to 1.0, when it is known. */
        void fraction(double done);

        /** Marks the step as failed; close() then prints it as such. */
        void failed();

        @Override
        void close();
    }

    /** Swallows everything; for callers that do not want output (tests, library use). */
    Progress SILENT = name -> new Step() {
        @Override
        public void detail(String text) {}

        @Override
        public void fraction(double done) {}

        @Override
        public void failed() {}

        @Override
        public void close() {}
    };
}
