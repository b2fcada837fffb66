package dev.kiln.validator;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A validation in its own JVM, so a test can send it SIGINT (Ctrl-C) mid-way. Args: STORE
 * NAME:VERSION PROVIDER TMPROOT REPORTDIR.
 */
public final class ValidateProcess {
    private ValidateProcess() {}

    public static void main(String[] args) throws Exception {
        Validator.run(new Validator.Request(
                dev.kiln.core.store.ImageSource.local(new ImageStore(Path.of(args[0]))),
                ImageRef.parse(args[1]),
                args[2],
                1,
                2,
                Duration.ofSeconds(600),
                Path.of(args[4]),
                Path.of(args[3]),
                line -> {
                    System.out.println(line);
                    System.out.flush();
                }));
    }
}
