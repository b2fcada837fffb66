package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.builder.store.Manifest;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/** Ctrl-C in the middle of a validation: the run stops and leaves nothing behind. */
@Tag("vm")
class InterruptedValidationTest {
    private static final Pattern RUN = Pattern.compile("run (kv[0-9a-f]{6}):");

    @TempDir
    Path work;

    @ParameterizedTest
    @ValueSource(strings = {"container", "qemu-pxe"})
    void sigintWhileNodesBootTearsEverythingDown(String provider) throws Exception {
        Manifest image = TestImages.debianNode();
        Path tmpRoot = Files.createDirectories(work.resolve("tmp"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), ValidateProcess.class.getName(),
                TestImages.store().root().toString(), image.name() + ":" + image.version(), provider, tmpRoot.toString(),
                work.resolve("reports").toString())
                .redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        String runId = null;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                lines.add(line);
                Matcher m = RUN.matcher(line);
                if (m.find()) {
                    runId = m.group(1);
                }
                // Interrupt once nodes are running and at least one has reported, i.e. mid-boot.
                if (line.matches(".*\\] (m1|w1|w2) +booted .*")) {
                    break;
                }
            }
            assertThat(runId).as(String.join("\n", lines)).isNotNull();
            assertThat(Leftovers.of(runId, tmpRoot)).as("the run is going").isNotEmpty();
            new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exits after Ctrl-C").isTrue();
            while ((line = out.readLine()) != null) {
                lines.add(line);
            }
        } finally {
            p.destroyForcibly();
        }
        assertThat(String.join("\n", lines)).contains("interrupted: tearing down").contains("torn down run " + runId);
        assertThat(Leftovers.of(runId, tmpRoot)).isEmpty();
    }
}
