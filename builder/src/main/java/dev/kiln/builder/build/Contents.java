package dev.kiln.builder.build;

import dev.kiln.core.util.Hashing;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * contents.tsv.gz: one line per path in the image (type, mode, owner, size, sha256 or link target),
 * sorted. It is what lets {@code kiln diff} show file-level changes between versions.
 */
public final class Contents {
    public static final String FILE = "contents.tsv.gz";

    private Contents() {}

    static void write(Path root, Path output) throws IOException {
        List<Path> paths;
        try (Stream<Path> s = Files.walk(root)) {
            paths = s.filter(p -> !p.equals(root)).sorted().toList();
        }
        try (BufferedWriter w = new BufferedWriter(
                new OutputStreamWriter(new GZIPOutputStream(Files.newOutputStream(output)), StandardCharsets.UTF_8))) {
            for (Path p : paths) {
                PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                String type;
                String detail;
                if (a.isSymbolicLink()) {
                    type = "l";
                    detail = Files.readSymbolicLink(p).toString();
                } else if (a.isDirectory()) {
                    type = "d";
                    detail = "-";
                } else if (a.isRegularFile()) {
                    type = "f";
                    detail = Hashing.sha256(p);
                } else {
                    type = "o";
                    detail = "-";
                }
                int uid = (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
                int gid = (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
                w.write("/"
                        + root.relativize(p)
                        + "\t"
                        + type
                        + "\t"
                        + PosixFilePermissions.toString(a.permissions())
                        + "\t"
                        + uid
                        + ":"
                        + gid
                        + "\t"
                        + (a.isRegularFile() ? a.size() : 0)
                        + "\t"
                        + detail
                        + "\n");
            }
        }
    }
}
