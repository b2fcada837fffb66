package dev.kiln.builder.update;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Edits a YAML document in place: scalar values are replaced in the text where the parser found
 * them and list items are inserted next to their siblings, so comments, key order, quoting and
 * layout survive (a re-dump would lose them). Paths are as in {@code YamlLocations}:
 * "kernel.version", "packages[0]", "base.repositories".
 */
public final class SpecEditor {
    /**
     * Scalars that read back as the same string when written unquoted, in block and flow context.
     */
    private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._~+=/-]*");

    private final String text;

    /** Character spans (start inclusive, end exclusive) of scalars and collections, by path. */
    private final Map<String, Node> nodes = new HashMap<>();

    private final List<Edit> edits = new ArrayList<>();

    private enum Kind {
        SCALAR,
        MAPPING,
        SEQUENCE
    }

    /**
     * {@code end} of a collection is its closing bracket for flow style, else the end of its last
     * scalar.
     */
    private record Node(Kind kind, int start, int end, boolean flow, int items, String lastChild) {}

    private record Edit(int start, int end, String replacement) {}

    public SpecEditor(String text) throws IOException {
        this.text = text;
        index();
    }

    private int chars(long codePoints) {
        // The YAML parser counts code points; Java strings count UTF-16 units.
        return text.offsetByCodePoints(0, (int) codePoints);
    }

    private void index() throws IOException {
        try (JsonParser p = new YAMLFactory().createParser(text)) {
            Deque<String> paths = new ArrayDeque<>();
            Deque<int[]> counters = new ArrayDeque<>(); // [next index or -1 for mappings, start, flow, lastEnd]
            Deque<String> lastChild = new ArrayDeque<>();
            String pending = null;
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                if (t == JsonToken.FIELD_NAME) {
                    pending = join(paths.peek(), p.currentName());
                    continue;
                }
                int start = chars(p.currentTokenLocation().getCharOffset());
                int end = chars(p.currentLocation().getCharOffset());
                if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    String path = paths.pop();
                    int[] c = counters.pop();
                    String last = lastChild.pop();
                    boolean flow = c[2] == 1;
                    int closeAt = flow ? start : c[3];
                    nodes.put(
                            path,
                            new Node(
                                    t == JsonToken.END_ARRAY ? Kind.SEQUENCE : Kind.MAPPING,
                                    c[1],
                                    closeAt,
                                    flow,
                                    Math.max(c[0], 0),
                                    last));
                    if (!counters.isEmpty()) {
                        counters.peek()[3] = Math.max(counters.peek()[3], flow ? end : c[3]);
                    }
                    continue;
                }
                String here;
                if (pending != null) {
                    here = pending;
                    pending = null;
                } else if (!counters.isEmpty() && counters.peek()[0] >= 0) {
                    here = paths.peek() + "[" + counters.peek()[0]++ + "]";
                } else {
                    here = "";
                }
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    boolean flow = start < text.length() && (text.charAt(start) == '{' || text.charAt(start) == '[');
                    if (!lastChild.isEmpty()) {
                        lastChild.pop();
                        lastChild.push(here);
                    }
                    paths.push(here);
                    counters.push(new int[] {t == JsonToken.START_ARRAY ? 0 : -1, start, flow ? 1 : 0, start});
                    lastChild.push("");
                } else {
                    nodes.put(here, new Node(Kind.SCALAR, start, end, false, 0, null));
                    if (!counters.isEmpty()) {
                        counters.peek()[3] = Math.max(counters.peek()[3], end);
                        lastChild.pop();
                        lastChild.push(here);
                    }
                }
            }
        }
    }

    private static String join(String parent, String name) {
        return parent == null || parent.isEmpty() ? name : parent + "." + name;
    }

    public boolean has(String path) {
        return nodes.containsKey(path);
    }

    /**
     * Replaces the scalar at {@code path}, keeping its quoting style (quotes are added if the value
     * needs them).
     */
    public SpecEditor set(String path, String value) {
        Node n = nodes.get(path);
        if (n == null || n.kind() != Kind.SCALAR) {
            throw new IllegalArgumentException("no scalar at " + path + " in the spec");
        }
        char q = text.charAt(n.start());
        String written;
        if (q == '\'') {
            written = "'" + value.replace("'", "''") + "'";
        } else if (q == '"' || !PLAIN.matcher(value).matches()) {
            written = "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
        } else {
            written = value;
        }
        edits.add(new Edit(n.start(), n.end(), written));
        return this;
    }

    /**
     * Appends {@code flowItem} (written as is, e.g. "{url: U, suite: S}") to the sequence at {@code
     * listPath}, creating the key in its parent mapping when it is missing. {@code comment} (may be
     * null) goes at the end of the new line in block style.
     */
    public SpecEditor append(String listPath, String flowItem, String comment) {
        Node list = nodes.get(listPath);
        String trailing = comment == null ? "" : "  # " + comment;
        if (list != null && list.kind() == Kind.SEQUENCE && list.flow()) {
            edits.add(new Edit(list.end(), list.end(), (list.items() == 0 ? "" : ", ") + flowItem));
            return this;
        }
        if (list != null && list.kind() == Kind.SEQUENCE && list.items() > 0) {
            // Same prefix ("    - ") as the first item's line, after the line the last item ends
            // on.
            int firstItem = nodes.get(listPath + "[0]").start();
            String prefix = text.substring(lineStart(firstItem), firstItem);
            if (!prefix.matches("\\s*-\\s+")) {
                prefix = " ".repeat(firstItem - lineStart(firstItem) - 2) + "- ";
            }
            int at = lineEnd(list.end());
            edits.add(new Edit(at, at, "\n" + prefix + flowItem + trailing));
            return this;
        }
        if (list != null) {
            throw new IllegalArgumentException(listPath + " is not a list");
        }
        int dot = listPath.lastIndexOf('.');
        String parentPath = dot < 0 ? "" : listPath.substring(0, dot);
        String key = listPath.substring(dot + 1);
        Node parent = nodes.get(parentPath);
        if (parent == null || parent.kind() != Kind.MAPPING) {
            throw new IllegalArgumentException("no mapping at " + parentPath + " in the spec");
        }
        if (parent.flow()) {
            edits.add(new Edit(parent.end(), parent.end(), ", " + key + ": [" + flowItem + "]"));
            return this;
        }
        // Block mapping: a new key at the indentation of its siblings, after the last one and any
        // comment lines that follow it at that indentation (they read as part of the block).
        Node sibling = nodes.get(parent.lastChild());
        if (sibling == null) {
            throw new IllegalArgumentException(parentPath + " is empty; add " + key + " by hand");
        }
        int firstKeyColumn = column(keyStart(parentPath));
        int at = lineEnd(sibling.end());
        while (at < text.length()) {
            int next = at + 1;
            int nextEnd = lineEnd(next);
            String line = text.substring(next, nextEnd);
            if (line.matches("\\s*#.*") && line.indexOf('#') >= firstKeyColumn) {
                at = nextEnd;
            } else {
                break;
            }
        }
        String indent = " ".repeat(firstKeyColumn);
        edits.add(new Edit(at, at, "\n" + indent + key + ":\n" + indent + "  - " + flowItem + trailing));
        return this;
    }

    /** Where the first key of a block mapping starts (the mapping's own start). */
    private int keyStart(String mappingPath) {
        return nodes.get(mappingPath).start();
    }

    private int column(int offset) {
        return offset - lineStart(offset);
    }

    private int lineStart(int offset) {
        return text.lastIndexOf('\n', Math.max(0, offset - 1)) + 1;
    }

    private int lineEnd(int offset) {
        int nl = text.indexOf('\n', offset);
        return nl < 0 ? text.length() : nl;
    }

    /** The text with every edit applied. */
    public String result() {
        StringBuilder sb = new StringBuilder(text);
        List<Edit> sorted = new ArrayList<>(edits);
        sorted.sort(Comparator.comparingInt(Edit::start).reversed());
        for (Edit e : sorted) {
            sb.replace(e.start(), e.end(), e.replacement());
        }
        return sb.toString();
    }
}
