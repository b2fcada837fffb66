package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's and subcommand's --help, as a user reads it: no picocli warning (an unescaped %
 * in a text, say), no sentence broken where the source text was wrapped, and an example.
 */
class HelpTest {
    @Test
    void everyHelpIsFreeOfWarningsAndBrokenSentencesAndShowsAnExample() {
        List<String> commands = new ArrayList<>();
        walk(new CommandLine(new Main()), List.of(), commands);
        assertThat(commands).hasSizeGreaterThan(20);
        List<String> problems = new ArrayList<>();
        for (String c : commands) {
            String[] args = (c.isEmpty() ? "--help" : c + " --help").split(" ");
            String said = helpOf(args);
            if (said.contains("WARN")) {
                problems.add("kiln " + c + " --help warns: "
                        + said.lines()
                                .filter(l -> l.contains("WARN"))
                                .findFirst()
                                .orElse(""));
            }
            // A sentence broken where the source was wrapped: a short line ending in a word, the
            // sentence going on, lower case, on the next line (picocli's own wrapping fills lines).
            List<String> lines = said.lines().toList();
            for (int i = 0; i + 1 < lines.size(); i++) {
                String l = lines.get(i);
                String next = lines.get(i + 1);
                if (l.length() < 50
                        && !l.isBlank()
                        && l.matches(".*[a-z]$")
                        && !l.startsWith(" ")
                        && next.matches("^[a-z(].*")) {
                    problems.add("kiln " + c + " --help breaks a sentence: '" + l + "' / '" + next + "'");
                }
            }
            if (!c.isEmpty() && !c.equals("help") && !said.contains("kiln " + c.split(" ")[0])) {
                problems.add("kiln " + c + " --help shows no example (no line with 'kiln " + c.split(" ")[0] + "')");
            }
        }
        assertThat(problems).isEmpty();
    }

    private static void walk(CommandLine cl, List<String> path, List<String> out) {
        out.add(String.join(" ", path));
        cl.getSubcommands().forEach((name, sub) -> {
            if (sub.getCommandSpec().aliases().length > 0 && !name.equals(sub.getCommandName())) {
                return; // an alias of a command already walked
            }
            List<String> next = new ArrayList<>(path);
            next.add(name);
            walk(sub, next, out);
        });
    }

    /** kiln ARGS in this JVM, stdout and stderr together. */
    private static String helpOf(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream capture = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            System.setErr(capture);
            Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
