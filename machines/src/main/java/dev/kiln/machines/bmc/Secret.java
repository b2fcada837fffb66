package dev.kiln.machines.bmc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;

/**
 * A BMC password, read from a file or an environment variable and never printed: its {@link
 * #toString} is a placeholder, and errors name where it comes from, not what it is.
 */
public final class Secret {
    private final String value;
    private final String source;

    private Secret(String value, String source) {
        this.value = value;
        this.source = source;
    }

    /** The first line of {@code file} (a trailing newline is not part of the password). */
    public static Secret fromFile(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IOException("BMC password file " + file + " does not exist");
        } catch (IOException e) {
            throw new IOException("cannot read BMC password file " + file + ": "
                    + e.getClass().getSimpleName());
        }
        String line = text.lines().findFirst().orElse("");
        if (line.isEmpty()) {
            throw new IOException("BMC password file " + file + " is empty");
        }
        return new Secret(line, "file " + file);
    }

    public static Secret fromEnv(String variable) throws IOException {
        return fromEnv(variable, System::getenv);
    }

    static Secret fromEnv(String variable, Function<String, String> env) throws IOException {
        String v = env.apply(variable);
        if (v == null || v.isEmpty()) {
            throw new IOException("environment variable " + variable + " (the BMC password) is not set");
        }
        return new Secret(v, "environment variable " + variable);
    }

    /** For the lab, which makes its BMCs' passwords itself. */
    public static Secret of(String value, String source) {
        return new Secret(value, source);
    }

    /** The password itself: only for the wire or a child's environment, never for a message. */
    public String reveal() {
        return value;
    }

    /** Where the password comes from, for messages. */
    public String source() {
        return source;
    }

    /** Puts the password into a child process's environment under {@code name}. */
    public void into(Map<String, String> environment, String name) {
        environment.put(name, value);
    }

    @Override
    public String toString() {
        return "(password from " + source + ")";
    }
}
