package dev.kiln.fleet;

import dev.kiln.core.store.ImageRef;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The part of a request URI after /images/, checked before it comes near the filesystem:
 * NAME/VERSION/PATH where every segment is percent-decoded exactly once and must then be a plain
 * name. Anything that could climb out or be read two ways is refused: empty segments (absolute
 * paths, "//"), "." and "..", encoded or literal slashes and backslashes, NUL and control
 * characters, and any '%' left after decoding (double encoding like %252e%252e). The server
 * additionally serves only files listed in the version's manifest, and checks the real path.
 *
 * @param relative the artifact path inside the version directory, like "pxe/vmlinuz"
 */
public record ImagePath(ImageRef image, String relative) {
    private static final Pattern IMAGE_NAME = Pattern.compile("[a-z0-9][a-z0-9-]*");

    /** Raised for a path that is refused; the message is safe to log and send (no server paths). */
    public static final class BadPath extends Exception {
        BadPath(String message) {
            super(message);
        }
    }

    /**
     * @param raw the still-encoded path after "/images/"
     */
    public static ImagePath parse(String raw) throws BadPath {
        String[] parts = raw.split("/", -1);
        if (parts.length < 3) {
            throw new BadPath("expected /images/NAME/VERSION/PATH");
        }
        List<String> segments = new ArrayList<>(parts.length);
        for (String part : parts) {
            segments.add(segment(part));
        }
        String name = segments.get(0);
        if (!IMAGE_NAME.matcher(name).matches()) {
            throw new BadPath("not an image name");
        }
        return new ImagePath(
                new ImageRef(name, segments.get(1)), String.join("/", segments.subList(2, segments.size())));
    }

    private static String segment(String raw) throws BadPath {
        if (raw.isEmpty()) {
            throw new BadPath("empty path segment");
        }
        String s = decode(raw);
        if (s.equals(".") || s.equals("..")) {
            throw new BadPath("relative path segment");
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '/' || c == '\\' || c == '%' || c < 0x20 || c == 0x7f) {
                throw new BadPath("forbidden character in path");
            }
        }
        return s;
    }

    /** Strict percent-decoding: malformed escapes and invalid UTF-8 are refused, not guessed at. */
    private static String decode(String raw) throws BadPath {
        if (raw.indexOf('%') < 0) {
            return raw;
        }
        ByteBuffer bytes = ByteBuffer.allocate(raw.length() * 4);
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%') {
                int hi = i + 1 < raw.length() ? Character.digit(raw.charAt(i + 1), 16) : -1;
                int lo = i + 2 < raw.length() ? Character.digit(raw.charAt(i + 2), 16) : -1;
                if (hi < 0 || lo < 0) {
                    throw new BadPath("malformed percent-encoding");
                }
                bytes.put((byte) (hi * 16 + lo));
                i += 2;
            } else {
                bytes.put(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
            }
        }
        bytes.flip();
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new BadPath("malformed percent-encoding");
        }
    }
}
