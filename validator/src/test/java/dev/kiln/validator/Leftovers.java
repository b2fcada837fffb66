package dev.kiln.validator;

import dev.kiln.core.exec.Exec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Everything of one validation run that still exists, found the way an operator would look. */
public final class Leftovers {
    private Leftovers() {}

    public static List<String> of(String runId, Path tmpRoot) throws IOException {
        List<String> found = new ArrayList<>();
        String label = "label=" + RunLabel.DOCKER_LABEL + "=" + runId;
        for (String c : lines(Exec.of("docker", "ps", "-a", "--filter", label, "--format", "{{.Names}}"))) {
            found.add("container " + c);
        }
        for (String n : lines(Exec.of("docker", "network", "ls", "--filter", label, "--format", "{{.Name}}"))) {
            found.add("network " + n);
        }
        for (String ns : lines(Exec.of("ip", "netns", "list"))) {
            if (ns.startsWith("kiln-" + runId)) {
                found.add("netns " + ns);
            }
        }
        for (String link : lines(Exec.of("ip", "-o", "link", "show"))) {
            if (link.contains(runId)) {
                found.add("link " + link);
            }
        }
        String marker = RunLabel.DIR_PREFIX + runId;
        for (String rule : lines(Exec.of("iptables", "-t", "nat", "-S", "PREROUTING"))) {
            if (rule.contains(marker)) {
                found.add("iptables rule " + rule);
            }
        }
        try (var procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+"))
                    .toList()) {
                try {
                    String cmd = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8)
                            .replace('\0', ' ');
                    if (cmd.contains(marker)) {
                        found.add("process " + p.getFileName() + ": " + cmd);
                    }
                } catch (IOException gone) {
                    // exited while we looked
                }
            }
        }
        if (Files.exists(RunLabel.OWNERS.resolve(runId))) {
            found.add("owner record " + RunLabel.OWNERS.resolve(runId));
        }
        if (Files.exists(tmpRoot.resolve(marker))) {
            found.add("directory " + tmpRoot.resolve(marker));
        }
        return found;
    }

    private static List<String> lines(Exec exec) throws IOException {
        Exec.Result r = exec.runAllowingFailure();
        return r.output().lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    }
}
