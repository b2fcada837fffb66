package dev.kiln.core.yaml;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Line and column of every field and list item in a YAML document, keyed by field path
 * ("files[2].mode"), so checks that run after binding can still point at file:line. Public for
 * other YAML inputs (kiln serve's inventory).
 */
public final class YamlLocations {
    private final Map<String, JsonLocation> byPath = new HashMap<>();

    private YamlLocations() {}

    public static YamlLocations index(String yaml) throws IOException {
        YamlLocations result = new YamlLocations();
        try (JsonParser p = new YAMLFactory().createParser(yaml)) {
            // Each frame: the path of the container, and for arrays the next index.
            Deque<String> paths = new ArrayDeque<>();
            Deque<int[]> indexes = new ArrayDeque<>();
            String pendingField = null;
            JsonToken t;
            while ((t = p.nextToken()) != null) {
                if (t == JsonToken.FIELD_NAME) {
                    pendingField = join(paths.peek(), p.currentName());
                    result.byPath.putIfAbsent(pendingField, p.currentTokenLocation());
                    continue;
                }
                String here;
                if (pendingField != null) {
                    here = pendingField;
                    pendingField = null;
                } else if (!indexes.isEmpty() && indexes.peek()[0] >= 0) {
                    here = paths.peek() + "[" + indexes.peek()[0]++ + "]";
                    result.byPath.putIfAbsent(here, p.currentTokenLocation());
                } else {
                    here = "";
                }
                if (t == JsonToken.START_OBJECT) {
                    paths.push(here);
                    indexes.push(new int[] {-1});
                } else if (t == JsonToken.START_ARRAY) {
                    paths.push(here);
                    indexes.push(new int[] {0});
                } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    paths.pop();
                    indexes.pop();
                }
            }
        }
        return result;
    }

    private static String join(String parent, String name) {
        return parent == null || parent.isEmpty() ? name : parent + "." + name;
    }

    /** The location of the path, or of its nearest ancestor that has one. */
    public JsonLocation find(String path) {
        String p = path;
        while (p != null && !p.isEmpty()) {
            JsonLocation loc = byPath.get(p);
            if (loc != null) {
                return loc;
            }
            int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
            p = cut < 0 ? null : p.substring(0, cut);
        }
        return null;
    }
}
