package dev.kiln.core.exec;

import java.io.IOException;
import java.util.List;

/** A tool exited non-zero. The message names the tool, its exit code and its last output lines. */
public final class ExecException extends IOException {
    private final int exitCode;

    public ExecException(List<String> command, int exitCode, String tail) {
        super(command.get(0)
                + " failed with exit code "
                + exitCode
                + "\n  command: "
                + String.join(" ", command)
                + (tail.isBlank() ? "" : "\n  last output:\n    " + tail.replace("\n", "\n    ")));
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
