package dev.kiln.builder.spec;

import dev.kiln.core.json.Json;
import dev.kiln.core.yaml.YamlErrors;
import dev.kiln.core.yaml.YamlLocations;
import dev.kiln.core.yaml.YamlProblem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads a spec file into an {@link ImageSpec}. Syntax, unknown fields, missing fields and wrong
 * types fail here with file:line, the field path and what was expected.
 */
public final class SpecLoader {

    private SpecLoader() {}

    /** A loaded spec with what later checks need to point back into the file. */
    public record Loaded(ImageSpec spec, Path file, String text, YamlErrors.Located problems) {
        /**
         * Directory relative paths in the spec (templates, archives, keys) are resolved against.
         */
        public Path baseDir() {
            Path parent = file.toAbsolutePath().getParent();
            return parent == null ? Path.of(".") : parent;
        }

        /** sha256 of the spec bytes: the identity of "what was asked for". */
        public String sha256() {
            return dev.kiln.core.util.Hashing.sha256(text);
        }
    }

    public static Loaded load(Path file) throws SpecException, IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new SpecException(new YamlProblem(file, 0, 0, null, "spec file not found"));
        }
        return parse(file, text);
    }

    public static Loaded parse(Path file, String text) throws SpecException {
        YamlLocations locations;
        try {
            locations = YamlLocations.index(text);
        } catch (IOException e) {
            throw new SpecException(YamlErrors.fromJackson(file, e, null));
        }
        try {
            ImageSpec spec = Json.STRICT_YAML.readValue(text, ImageSpec.class);
            if (spec == null) {
                throw new SpecException(new YamlProblem(
                        file, 1, 1, null, "the spec is empty; expected a mapping with name, version, base, kernel"));
            }
            return new Loaded(spec, file, text, new YamlErrors.Located(file, locations));
        } catch (IOException e) {
            throw new SpecException(YamlErrors.fromJackson(file, e, locations));
        }
    }
}
