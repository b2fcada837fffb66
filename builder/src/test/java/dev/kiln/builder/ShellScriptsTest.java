package dev.kiln.builder;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every shell script kiln ships or runs (the node agent and initramfs in templates/, the CI and
 * pipeline scripts, the benchmarks, the launcher) passes shellcheck. Scripts run on nodes where a
 * quoting mistake is a broken boot, so findings are fixed, or silenced one line at a time with a
 * reason.
 */
class ShellScriptsTest {

    @Test
    void everyShellScriptPassesShellcheck() throws Exception {
        assertThat(Exec.of("sh", "-c", "command -v shellcheck")
                        .runAllowingFailure()
                        .exitCode())
                .as("shellcheck is not installed: ci/install-deps.sh installs it (Debian package shellcheck)")
                .isZero();
        List<String> scripts = scripts();
        assertThat(scripts)
                .as("shell scripts found")
                .hasSizeGreaterThan(10)
                .contains("templates/agent/kiln-agent", "templates/initramfs/scripts/kiln", "kiln");
        List<String> cmd = new ArrayList<>(List.of("shellcheck", "--format=gcc"));
        cmd.addAll(scripts);
        Exec.Result r = Exec.of(cmd).in(TestSupport.repoRoot()).runAllowingFailure();
        assertThat(r.output()).as("shellcheck findings").isEmpty();
        assertThat(r.exitCode()).isZero();
    }

    /** Files with a sh or bash shebang, and the initramfs scripts that initramfs-tools sources. */
    static List<String> scripts() throws IOException {
        Path root = TestSupport.repoRoot();
        List<String> found = new ArrayList<>();
        for (String dir : List.of("templates", "ci", "bench")) {
            try (Stream<Path> files = Files.walk(root.resolve(dir))) {
                for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
                    String rel = root.relativize(f).toString();
                    if (isShell(f) || rel.startsWith("templates/initramfs/scripts/")) {
                        found.add(rel);
                    }
                }
            }
        }
        if (isShell(root.resolve("kiln"))) {
            found.add("kiln");
        }
        return found;
    }

    private static boolean isShell(Path f) throws IOException {
        byte[] head = new byte[64];
        int n;
        try (var in = Files.newInputStream(f)) {
            n = in.read(head);
        }
        String first = n <= 0
                ? ""
                : new String(head, 0, n, StandardCharsets.ISO_8859_1)
                        .lines()
                        .findFirst()
                        .orElse("");
        return first.matches("#!\\s*/(usr/)?bin/(env\\s+)?(sh|bash|dash)\\b.*");
    }
}
