package dev.kiln.core.store;

/**
 * NAME@ENV: whichever version environment ENV of image NAME points at (kiln promote moves it).
 * Inventories may name an image this way instead of NAME:VERSION.
 */
public record ChannelRef(String name, String env) {
    /** Whether the text is meant as a channel (NAME@ENV) rather than a version (NAME:VERSION). */
    public static boolean isChannel(String text) {
        return text != null && text.indexOf('@') > 0 && text.indexOf(':') < 0;
    }

    public static ChannelRef parse(String text) {
        int at = text.indexOf('@');
        String name = at < 0 ? "" : text.substring(0, at);
        String env = at < 0 ? "" : text.substring(at + 1);
        if (!name.matches("[a-z0-9][a-z0-9-]*") || !env.matches("[a-z0-9][a-z0-9-]*")) {
            throw new IllegalArgumentException(
                    "expected an image channel NAME@ENV (like debian-node@prod), got '" + text + "'");
        }
        return new ChannelRef(name, env);
    }

    @Override
    public String toString() {
        return name + "@" + env;
    }
}
