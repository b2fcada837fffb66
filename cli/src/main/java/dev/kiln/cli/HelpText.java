package dev.kiln.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/**
 * Descriptions are written in the source as several strings so the lines stay short; picocli
 * prints each string on a line of its own and wraps it again, which broke sentences in the middle
 * ("a\nkiln serve with a\ngenerated inventory"). This joins each paragraph into one string before
 * help is printed, so picocli wraps it once. A blank string ends a paragraph; a string that
 * begins with a space, "-" or "*" (a list or an example) stays a line of its own.
 */
final class HelpText {
    private HelpText() {}

    /** Joins the description paragraphs of {@code cl} and of all its subcommands. */
    static CommandLine joinParagraphs(CommandLine cl) {
        CommandLine.Model.UsageMessageSpec usage = cl.getCommandSpec().usageMessage();
        usage.description(join(usage.description()));
        for (CommandLine sub : cl.getSubcommands().values()) {
            joinParagraphs(sub);
        }
        return cl;
    }

    static String[] join(String[] lines) {
        List<String> out = new ArrayList<>();
        StringBuilder paragraph = null;
        for (String line : lines) {
            boolean own = line.isBlank() || line.startsWith(" ") || line.startsWith("-") || line.startsWith("*");
            if (own) {
                if (paragraph != null) {
                    out.add(paragraph.toString());
                    paragraph = null;
                }
                out.add(line);
            } else if (paragraph == null) {
                paragraph = new StringBuilder(line.strip());
            } else {
                paragraph.append(' ').append(line.strip());
            }
        }
        if (paragraph != null) {
            out.add(paragraph.toString());
        }
        return out.toArray(String[]::new);
    }
}
