package dev.kiln.validator.provider;

import dev.kiln.validator.RunLabel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The names a {@link NamespaceLan} gives what it creates (namespace kiln-RUN, host veth RUNh,
 * processes marked kiln-validate-RUN), and removing what crashed runs left of them.
 */
final class NamespaceCleanup {
    private static final Pattern RUN_ID = Pattern.compile("kv[0-9a-f]{6}");
    private static final Pattern MARKER = Pattern.compile(Pattern.quote(RunLabel.DIR_PREFIX) + "(" + RUN_ID + ")");

    private NamespaceCleanup() {}

    /**
     * Removes what crashed runs left behind: namespaces kiln-kv*, QEMU and dnsmasq processes
     * carrying a run's marker, host veths kv*h. Runs {@code isLiveRun} accepts are left alone, and
     * nothing without a run's marker is touched. Returns how many were removed.
     */
    static int run(Predicate<String> isLiveRun, Consumer<String> log) {
        int removed = 0;
        // Processes first (they hold the taps), then veths, then namespaces, as in close().
        for (Map.Entry<Long, String> e : markedProcesses().entrySet()) {
            if (!isLiveRun.test(e.getValue())) {
                Optional<ProcessHandle> p = ProcessHandle.of(e.getKey());
                if (p.isPresent()) {
                    String what = p.get().info().command().orElse("process");
                    p.get().destroyForcibly();
                    try {
                        p.get().onExit().get(10, TimeUnit.SECONDS);
                    } catch (InterruptedException ex) {
                        Thread.currentThread().interrupt();
                    } catch (ExecutionException | TimeoutException ex) {
                        log.accept("pid " + e.getKey() + " of stale run " + e.getValue() + " did not exit within 10 s");
                    }
                    log.accept("killed " + what + " (pid " + e.getKey() + ") of stale run " + e.getValue());
                    removed++;
                }
            }
        }
        Pattern vethName = Pattern.compile("^\\d+: (" + RUN_ID + ")h[@:]");
        for (String line : NamespaceLan.exec(List.of("ip", "-o", "link", "show"), "")
                .lines()
                .toList()) {
            Matcher m = vethName.matcher(line);
            if (m.find() && !isLiveRun.test(m.group(1))) {
                if (NamespaceLan.runQuietly("ip", "link", "del", hostVethOf(m.group(1)))) {
                    log.accept("removed host interface " + hostVethOf(m.group(1)));
                    removed++;
                }
            }
        }
        Pattern nsName = Pattern.compile("^kiln-(" + RUN_ID + ")\\b");
        for (String line :
                NamespaceLan.exec(List.of("ip", "netns", "list"), "").lines().toList()) {
            Matcher m = nsName.matcher(line);
            if (m.find() && !isLiveRun.test(m.group(1))) {
                if (NamespaceLan.runQuietly("ip", "netns", "del", namespaceOf(m.group(1)))) {
                    log.accept("removed network namespace " + namespaceOf(m.group(1)));
                    removed++;
                }
            }
        }
        return removed;
    }

    /**
     * Pid → run id of every QEMU, dnsmasq or ipmi_sim (kiln lab) whose command line carries a run's
     * marker.
     */
    private static Map<Long, String> markedProcesses() {
        Map<Long, String> found = new LinkedHashMap<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(d -> d.getFileName().toString().matches("\\d+"))
                    .toList()) {
                String[] argv = NamespaceLan.readQuietly(p.resolve("cmdline")).split("\0");
                String exe =
                        Path.of(argv[0].isEmpty() ? "-" : argv[0]).getFileName().toString();
                Matcher m = MARKER.matcher(String.join(" ", argv));
                if ((exe.startsWith("qemu-system-") || exe.equals("dnsmasq") || exe.equals("ipmi_sim")) && m.find()) {
                    found.put(Long.parseLong(p.getFileName().toString()), m.group(1));
                }
            }
        } catch (IOException e) {
            // No /proc: nothing to find.
        }
        return found;
    }

    /** The run id in {@code text} (a marker "kiln-validate-kvXXXXXX"), if any. */
    static Optional<String> runIdIn(String text) {
        Matcher m = MARKER.matcher(text);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    static String namespaceOf(String runId) {
        return "kiln-" + runId;
    }

    /** The host end of the run's veth pair: "kvXXXXXXh", within Linux's 15 characters. */
    static String hostVethOf(String runId) {
        return runId + "h";
    }
}
