package dev.kiln.builder.spec;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads a spec file into an {@link ImageSpec}. Syntax, unknown fields, missing fields and wrong
 * types fail here with file:line, the field path and what was expected.
 */
public final class SpecLoader {
    private static final YAMLMapper MAPPER = YAMLMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final Pattern MISSING = Pattern.compile("Missing required creator property '([^']+)'");

    private SpecLoader() { }

    /** A loaded spec with what later checks need to point back into the file. */
    public record Loaded(ImageSpec spec, Path file, String text, LocatedProblems problems) {
        /** Directory relative paths in the spec (templates, archives, keys) are resolved against. */
        public Path baseDir() {
            Path parent = file.toAbsolutePath().getParent();
            return parent == null ? Path.of(".") : parent;
        }

        /** sha256 of the spec bytes: the identity of "what was asked for". */
        public String sha256() {
            return dev.kiln.builder.util.Hashing.sha256(text);
        }
    }

    public static Loaded load(Path file) throws SpecException, IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new SpecException(new SpecProblem(file, 0, 0, null, "spec file not found"));
        }
        return parse(file, text);
    }

    public static Loaded parse(Path file, String text) throws SpecException {
        YamlLocations locations;
        try {
            locations = YamlLocations.index(text);
        } catch (IOException e) {
            throw new SpecException(fromJackson(file, e, null));
        }
        try {
            ImageSpec spec = MAPPER.readValue(text, ImageSpec.class);
            if (spec == null) {
                throw new SpecException(new SpecProblem(file, 1, 1, null, "the spec is empty; expected a mapping with name, version, base, kernel"));
            }
            return new Loaded(spec, file, text, new LocatedProblems(file, locations));
        } catch (IOException e) {
            throw new SpecException(fromJackson(file, e, locations));
        }
    }

    /**
     * A Jackson parse or binding error as a problem at file:line with the field path and what was
     * expected; {@code locations} (may be null) puts it on the field's own line. Also used for
     * other YAML inputs, such as kiln serve's inventory.
     */
    public static SpecProblem fromJackson(Path file, IOException e, YamlLocations locations) {
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
            String known = u.getKnownPropertyIds() == null ? "" : u.getKnownPropertyIds().stream()
                    .map(Object::toString).collect(Collectors.toCollection(TreeSet::new)).toString();
            return new SpecProblem(file, line, col, path(u), "unknown field '" + u.getPropertyName()
                    + "'; expected one of " + known);
        }
        if (e instanceof MismatchedInputException m) {
            Matcher missing = MISSING.matcher(String.valueOf(m.getOriginalMessage()));
            if (missing.find()) {
                String parent = path(m);
                String name = missing.group(1);
                String field = parent.equals(name) || parent.endsWith("." + name) ? parent
                        : parent.isEmpty() ? name : parent + "." + name;
                return new SpecProblem(file, line, col, field, "missing required field");
            }
            String expected = m.getTargetType() == null ? "a different value" : describe(m.getTargetType());
            String got = e instanceof InvalidFormatException f ? " , got '" + f.getValue() + "'" : "";
            return new SpecProblem(file, line, col, path(m), "expected " + expected + got);
        }
        if (e instanceof JsonMappingException m) {
            return new SpecProblem(file, line, col, path(m), firstLine(m.getOriginalMessage()));
        }
        if (e instanceof JsonProcessingException p) {
            return new SpecProblem(file, line, col, null, "YAML syntax error: " + firstLine(p.getOriginalMessage()));
        }
        return new SpecProblem(file, line, col, null, e.getMessage());
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
    public static final class LocatedProblems {
        private final Path file;
        private final YamlLocations locations;

        LocatedProblems(Path file, YamlLocations locations) {
            this.file = file;
            this.locations = locations;
        }

        public SpecProblem at(String fieldPath, String message) {
            JsonLocation loc = locations.find(fieldPath);
            return new SpecProblem(file, loc == null ? 0 : loc.getLineNr(), loc == null ? 0 : loc.getColumnNr(),
                    fieldPath, message);
        }
    }
}
