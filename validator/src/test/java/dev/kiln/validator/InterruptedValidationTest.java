package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.core.store.Manifest;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A validation stopped in the middle: Ctrl-C tears it down itself; after kill -9 (nothing runs any
 * more), kiln validate --cleanup removes what it left.
 * One run at a time: two qemu-pxe runs side by side (six machines on two cores) took longer than
 * one after the other.
 */
@Tag("vm")
class InterruptedValidationTest {
    private static final Pattern RUN = Pattern.compile("run (kv[0-9a-f]{6}):");

    @TempDir
    Path work;

    @ParameterizedTest
    @ValueSource(strings = {"container", "qemu-pxe"})
    void sigintWhileNodesBootTearsEverythingDown(String provider) throws Exception {
        try (Running run = Running.untilANodeBooted(provider, work)) {
            new ProcessBuilder("kill", "-INT", Long.toString(run.process.pid()))
                    .start()
                    .waitFor();
            assertThat(run.process.waitFor(60, TimeUnit.SECONDS))
                    .as("exits after Ctrl-C")
                    .isTrue();
            assertThat(run.rest()).contains("interrupted: tearing down").contains("torn down run " + run.id);
            assertThat(Leftovers.of(run.id, run.tmpRoot)).isEmpty();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"container", "qemu-pxe"})
    void cleanupRemovesWhatAKilledRunLeft(String provider) throws Exception {
        try (Running run = Running.untilANodeBooted(provider, work)) {
            new ProcessBuilder("kill", "-KILL", Long.toString(run.process.pid()))
                    .start()
                    .waitFor();
            assertThat(run.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(Leftovers.of(run.id, run.tmpRoot))
                    .as("kill -9 leaves the run behind")
                    .isNotEmpty();

            List<String> log = new ArrayList<>();
            Validator.cleanup(run.tmpRoot, log::add);

            assertThat(Leftovers.of(run.id, run.tmpRoot))
                    .as(String.join("\n", log))
                    .isEmpty();
        }
    }

    /**
     * A validation in its own JVM (ValidateProcess), read until one of its nodes reported "booted".
     */
    private static final class Running implements AutoCloseable {
        final Process process;
        final String id;
        final Path tmpRoot;
        private final BufferedReader out;

        private Running(Process process, String id, Path tmpRoot, BufferedReader out) {
            this.process = process;
            this.id = id;
            this.tmpRoot = tmpRoot;
            this.out = out;
        }

        static Running untilANodeBooted(String provider, Path work) throws Exception {
            Manifest image = TestImages.debianNode();
            Path tmpRoot = Files.createDirectories(work.resolve("tmp"));
            String java =
                    Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process p = new ProcessBuilder(
                            java,
                            "-cp",
                            System.getProperty("java.class.path"),
                            ValidateProcess.class.getName(),
                            TestImages.store().root().toString(),
                            image.name() + ":" + image.version(),
                            provider,
                            tmpRoot.toString(),
                            work.resolve("reports").toString())
                    .redirectErrorStream(true)
                    .start();
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            List<String> lines = new ArrayList<>();
            String id = null;
            String line;
            while ((line = out.readLine()) != null) {
                lines.add(line);
                Matcher m = RUN.matcher(line);
                if (m.find()) {
                    id = m.group(1);
                }
                if (line.matches(".*\\] (m1|w1|w2) +booted .*")) {
                    break;
                }
            }
            assertThat(id).as(String.join("\n", lines)).isNotNull();
            assertThat(line)
                    .as("a node booted; output:\n" + String.join("\n", lines))
                    .isNotNull();
            assertThat(Leftovers.of(id, tmpRoot)).as("the run is going").isNotEmpty();
            return new Running(p, id, tmpRoot, out);
        }

        /** Everything it printed from here to its end. */
        String rest() throws Exception {
            StringBuilder sb = new StringBuilder();
            String line;
            while ((line = out.readLine()) != null) {
                sb.append(line).append('\n');
            }
            return sb.toString();
        }

        @Override
        public void close() throws Exception {
            process.destroyForcibly();
            process.waitFor();
            out.close();
        }
    }
}
