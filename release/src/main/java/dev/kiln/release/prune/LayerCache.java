package dev.kiln.release.prune;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A bound on the package-layer cache (CACHE/layers/KEY.tar, one mmdebstrap result per package set):
 * the least recently used layers go first until the rest fit. A build touches a layer's
 * modification time when it reuses it, so that time is the last use. Partial layers of running
 * builds (dot files) are never counted or touched. A build that is reading a layer while it is
 * deleted keeps reading it (Linux keeps an open file); the next build makes it again.
 */
public final class LayerCache {
    /**
     * @param file the layer; @param lastUsed its mtime
     */
    public record Layer(Path file, long bytes, FileTime lastUsed) {}

    private LayerCache() {}

    public static List<Layer> layers(Path cacheDir) throws IOException {
        Path dir = cacheDir.resolve("layers");
        List<Layer> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (!n.startsWith(".") && n.endsWith(".tar") && Files.isRegularFile(p)) {
                    out.add(new Layer(p, Files.size(p), Files.getLastModifiedTime(p)));
                }
            }
        }
        out.sort(Comparator.comparing(Layer::lastUsed).reversed());
        return out;
    }

    /**
     * The layers to delete so that the rest fit in {@code maxBytes}: the newest are kept, oldest
     * go.
     */
    public static List<Layer> overBudget(List<Layer> newestFirst, long maxBytes) {
        List<Layer> out = new ArrayList<>();
        long total = 0;
        for (Layer l : newestFirst) {
            total += l.bytes();
            if (total > maxBytes) {
                out.add(l);
            }
        }
        return out;
    }

    /** 10G, 500M, 2GiB, 1024 (bytes). */
    public static long parseSize(String text) {
        String t = text.trim().toUpperCase().replace("IB", "").replace("B", "");
        try {
            long mult = 1;
            char last = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
            switch (last) {
                case 'K' -> mult = 1L << 10;
                case 'M' -> mult = 1L << 20;
                case 'G' -> mult = 1L << 30;
                case 'T' -> mult = 1L << 40;
                default -> {}
            }
            String n = mult == 1 ? t : t.substring(0, t.length() - 1);
            long v = Long.parseLong(n.trim());
            if (v >= 0) {
                return v * mult;
            }
        } catch (RuntimeException e) {
            // the message below
        }
        throw new IllegalArgumentException("expected a size like 20G, 500M or 2GiB, got '" + text + "'");
    }
}
