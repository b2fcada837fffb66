package dev.kiln.core.json;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

/**
 * The one Jackson configuration kiln uses. Documents kiln writes for itself (manifests, records,
 * state) are read leniently, so a newer kiln's extra fields never break an older reader; what a
 * person writes (specs, inventories, environments) is read strictly, so a misspelt field is an
 * error with its line instead of being ignored.
 */
public final class Json {
    /** kiln's own JSON: unknown fields ignored on read, indented on write (files people read). */
    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    /** One-line JSON: HTTP bodies, user data, files in the image that are printed as one line. */
    public static final ObjectWriter COMPACT = MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);

    /** YAML a person wrote: unknown fields, null primitives and duplicate keys are errors. */
    public static final YAMLMapper STRICT_YAML = YAMLMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** YAML kiln writes for a person or for itself (generated inventories). */
    public static final YAMLMapper YAML = new YAMLMapper();

    private Json() {}
}
