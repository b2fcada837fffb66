package dev.kiln.core.yaml;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Turns Jackson's YAML errors into {@link YamlProblem}s at file:line:column with the field path and
 * what was expected. Every YAML input of kiln (specs, inventories, environments) reports this way.
 */
public final class YamlErrors {
    private static final Pattern MISSING = Pattern.compile("Missing required creator property '([^']+)'");

    private YamlErrors() {}

    /**
     * A Jackson parse or binding error as a problem at file:line with the field path and what was
     * expected; {@code locations} (may be null) puts it on the field's own line. Also used for
     * other YAML inputs, such as kiln serve's inventory.
     */
    public static YamlProblem fromJackson(Path file, IOException e, YamlLocations locations) {
        JsonLocation loc = e instanceof JsonProcessingException jpe ? jpe.getLocation() : null;
        // The parser's position is often past the culprit; the field's own line is what users want.
        if (locations != null && e instanceof JsonMappingException m && !path(m).isEmpty()) {
            JsonLocation own = locations.find(path(m));
            if (own != null) {
                loc = own;
            }
        }
        int line = loc == null ? 0 : loc.getLineNr();
        int col = loc == null ? 0 : loc.getColumnNr();
        if (e instanceof UnrecognizedPropertyException u) {
            String known = u.getKnownPropertyIds() == null
                    ? ""
                    : u.getKnownPropertyIds().stream()
                            .map(Object::toString)
                            .collect(Collectors.toCollection(TreeSet::new))
                            .toString();
            return new YamlProblem(
                    file, line, col, path(u), "unknown field '" + u.getPropertyName() + "'; expected one of " + known);
        }
        if (e instanceof MismatchedInputException m) {
            Matcher missing = MISSING.matcher(String.valueOf(m.getOriginalMessage()));
            if (missing.find()) {
                String parent = path(m);
                String name = missing.group(1);
                String field = parent.equals(name) || parent.endsWith("." + name)
                        ? parent
                        : parent.isEmpty() ? name : parent + "." + name;
                return new YamlProblem(file, line, col, field, "missing required field");
            }
            String expected = m.getTargetType() == null ? "a different value" : describe(m.getTargetType());
            String got = e instanceof InvalidFormatException f ? " , got '" + f.getValue() + "'" : "";
            return new YamlProblem(file, line, col, path(m), "expected " + expected + got);
        }
        if (e instanceof JsonMappingException m) {
            return new YamlProblem(file, line, col, path(m), firstLine(m.getOriginalMessage()));
        }
        if (e instanceof JsonProcessingException p) {
            return new YamlProblem(file, line, col, null, "YAML syntax error: " + firstLine(p.getOriginalMessage()));
        }
        return new YamlProblem(file, line, col, null, e.getMessage());
    }

    private static String describe(Class<?> type) {
        if (List.class.isAssignableFrom(type)) {
            return "a list";
        }
        if (Map.class.isAssignableFrom(type) || type.isRecord()) {
            return "a mapping (key: value)";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "a whole number";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        return type.getSimpleName();
    }

    static String path(JsonMappingException e) {
        StringBuilder sb = new StringBuilder();
        for (JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                if (sb.length() > 0) {
                    sb.append('.');
                }
                sb.append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Builds problems that point at a field path of the loaded file. */
    public static final class Located {
        private final Path file;
        private final YamlLocations locations;

        public Located(Path file, YamlLocations locations) {
            this.file = file;
            this.locations = locations;
        }

        public YamlProblem at(String fieldPath, String message) {
            JsonLocation loc = locations.find(fieldPath);
            return new YamlProblem(
                    file, loc == null ? 0 : loc.getLineNr(), loc == null ? 0 : loc.getColumnNr(), fieldPath, message);
        }
    }
}
