package dev.kiln.builder.spec;

import java.util.Set;

/**
 * A file as it goes into the image: build-time template already rendered; any runtime placeholders
 * it still holds are listed so the node agent knows to fill it at first boot.
 */
public record RenderedFile(String path, String content, int mode, String owner, Set<String> placeholders) {
    public boolean hasPlaceholders() {
        return !placeholders.isEmpty();
    }
}
