package dev.kiln.fleet;

import dev.kiln.core.json.Json;
import dev.kiln.core.store.ChannelResolver;
import dev.kiln.core.store.ImageSource;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.yaml.YamlErrors;
import dev.kiln.core.yaml.YamlLocations;
import dev.kiln.core.yaml.YamlProblem;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads and checks an inventory file. Strict like the spec loader (unknown fields, wrong types and
 * YAML mistakes fail with file:line and the field path), then checks what binding cannot: unique
 * MACs and names, roles, a master per cluster, and that every assigned image is in the store ({@link
 * InventoryChecker}). All problems are reported at once.
 */
public final class InventoryLoader {
    private InventoryLoader() {}

    public static Inventory load(Path file, ImageStore store) throws InventoryException, IOException {
        return load(file, ImageSource.local(store));
    }

    /** As {@link #load(Path, ImageStore)}, checking images against any source (the S3 store). */
    public static Inventory load(Path file, ImageSource store) throws InventoryException, IOException {
        return load(file, store, ChannelResolver.NONE);
    }

    /**
     * As {@link #load(Path, ImageSource)}, resolving NAME@ENV images and revocations through {@code
     * channels}.
     */
    public static Inventory load(Path file, ImageSource store, ChannelResolver channels)
            throws InventoryException, IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new InventoryException(List.of(new YamlProblem(file, 0, 0, null, "inventory file not found")));
        }
        try {
            return parse(file, text, store, channels);
        } catch (UncheckedIOException e) {
            throw e.getCause(); // the source could not be asked: not a problem of the file
        }
    }

    public static Inventory parse(Path file, String text, ImageStore store) throws InventoryException {
        return parse(file, text, ImageSource.local(store));
    }

    /**
     * @throws UncheckedIOException when the source cannot say whether an image exists (S3 down)
     */
    public static Inventory parse(Path file, String text, ImageSource store) throws InventoryException {
        return parse(file, text, store, ChannelResolver.NONE);
    }

    /**
     * @throws UncheckedIOException when the source cannot say whether an image exists (S3 down), or
     *     the channel records cannot be read
     */
    public static Inventory parse(Path file, String text, ImageSource store, ChannelResolver channels)
            throws InventoryException {
        if (text.lines().allMatch(l -> l.isBlank() || l.trim().startsWith("#"))) {
            throw empty(file);
        }
        YamlLocations locations;
        Inventory.Document doc;
        try {
            locations = YamlLocations.index(text);
            doc = Json.STRICT_YAML.readValue(text, Inventory.Document.class);
        } catch (IOException e) {
            throw new InventoryException(List.of(fromJackson(file, e, text)));
        }
        if (doc == null) {
            throw empty(file);
        }
        ChannelResolver.State state;
        try {
            state = channels.read(imageNames(doc));
        } catch (IOException e) {
            throw new UncheckedIOException(new IOException(
                    "cannot read the promotion records (" + channels.describe() + "): " + e.getMessage(), e));
        }
        InventoryChecker checker = new InventoryChecker(file, locations, store, channels, state);
        List<Inventory.Member> members = checker.check(doc);
        if (!checker.problems.isEmpty()) {
            throw new InventoryException(checker.problems);
        }
        return new Inventory(file, members, state);
    }

    /**
     * The image names the inventory mentions (as NAME:VERSION or NAME@ENV), for reading their
     * channels.
     */
    static Set<String> imageNames(Inventory.Document doc) {
        Set<String> names = new LinkedHashSet<>();
        List<String> images = new ArrayList<>();
        for (Inventory.Cluster c : doc.clusters() == null ? List.<Inventory.Cluster>of() : doc.clusters()) {
            if (c == null) {
                continue;
            }
            images.add(c.image());
            for (Inventory.Node n : c.nodes() == null ? List.<Inventory.Node>of() : c.nodes()) {
                images.add(n == null ? null : n.image());
            }
        }
        for (String i : images) {
            int cut = i == null ? -1 : Math.max(i.indexOf(':'), i.indexOf('@'));
            if (cut > 0) {
                names.add(i.substring(0, cut));
            }
        }
        return names;
    }

    private static InventoryException empty(Path file) {
        return new InventoryException(List.of(new YamlProblem(
                file, 1, 0, null, "the inventory is empty; expected 'clusters:' with a list of clusters")));
    }

    /** Jackson's errors in the builder's words: file:line, field path, what was expected. */
    static YamlProblem fromJackson(Path file, IOException e, String text) {
        YamlLocations locations;
        try {
            locations = YamlLocations.index(text);
        } catch (IOException syntax) {
            locations = null; // keep the parser's own location
        }
        return YamlErrors.fromJackson(file, e, locations);
    }
}
