package dev.kiln.core.store;

/** NAME:VERSION as typed on the command line. */
public record ImageRef(String name, String version) {
    public static ImageRef parse(String text) {
        int colon = text.indexOf(':');
        if (colon <= 0 || colon == text.length() - 1) {
            throw new IllegalArgumentException(
                    "expected an image reference NAME:VERSION (like debian-node:1.0.0), got '" + text + "'");
        }
        return new ImageRef(text.substring(0, colon), text.substring(colon + 1));
    }

    @Override
    public String toString() {
        return name + ":" + version;
    }
}
