package dev.kiln.core.node;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runtime placeholders: {@code @@name@@} tokens that stay in the image and are filled on the node
 * from its metadata at first boot. The syntax cannot collide with shell {@code ${...}}, FreeMarker
 * {@code [=...]}, YAML, TOML or JSON, and is trivial to substitute with sed on the node.
 */
public final class Placeholders {
    public static final Pattern TOKEN = Pattern.compile("@@([A-Za-z][A-Za-z0-9_]*)@@");
    public static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_]*");

    private Placeholders() {}

    /** Names of all placeholders used in the text, in order of first use. */
    public static Set<String> usedIn(String text) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = TOKEN.matcher(text);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /** 1-based line of the first use of a placeholder, for error messages. */
    public static int lineOf(String text, String name) {
        int at = text.indexOf("@@" + name + "@@");
        if (at < 0) {
            return 0;
        }
        int line = 1;
        for (int i = 0; i < at; i++) {
            if (text.charAt(i) == '\n') {
                line++;
            }
        }
        return line;
    }
}
