package dev.kiln.builder.repro;

import dev.kiln.core.exec.Exec;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Sets the change and access time of every inode of an ext4 image made by {@code mkfs.ext4 -d} to
 * the build's epoch. mke2fs 1.47.0 (Debian bookworm) copies st_ctime and st_atime from the source
 * tree, and those are the times the build extracted and last read each file: different on every
 * build, and not settable from user space. (mke2fs 1.47.1 clamps them itself when SOURCE_DATE_EPOCH
 * is set; this pass then changes nothing.) One debugfs run with one {@code set_inode_field} per
 * inode and field: a few seconds for a node image.
 */
public final class Ext4Times {
    private Ext4Times() {}

    /**
     * @param image the ext4 image made from {@code tree}
     * @param warn told about paths debugfs cannot name (a line break in a file name)
     * @return the number of inodes set
     */
    public static long set(Path image, Path tree, long epoch, Path workDir, java.util.function.Consumer<String> warn)
            throws IOException {
        Path script = Files.createTempFile(workDir, "debugfs-times.", ".txt");
        long n = 0;
        List<String> skipped = new ArrayList<>();
        try {
            try (BufferedWriter w = Files.newBufferedWriter(script, StandardCharsets.UTF_8);
                    Stream<Path> all = Files.walk(tree)) {
                for (Path p : (Iterable<Path>) all::iterator) {
                    String rel = "/" + tree.relativize(p).toString();
                    if (rel.indexOf('\n') >= 0 || rel.indexOf('\r') >= 0) {
                        skipped.add(rel.replace("\n", "\\n").replace("\r", "\\r"));
                        continue;
                    }
                    // debugfs's parser: inside double quotes, "" is one quote.
                    String quoted = "\"" + rel.replace("\"", "\"\"") + "\"";
                    w.write("sif " + quoted + " ctime @" + epoch + "\n");
                    w.write("sif " + quoted + " atime @" + epoch + "\n");
                    n++;
                }
                w.write("sif /lost+found ctime @" + epoch + "\nsif /lost+found atime @" + epoch + "\n");
            }
            List<String> errors = new ArrayList<>();
            Exec.of("debugfs", "-w", "-f", script.toString(), image.toString())
                    .env("E2FSPROGS_FAKE_TIME", Long.toString(epoch))
                    .onLine(line -> {
                        // debugfs echoes each command as "debugfs: ..."; anything else is a
                        // complaint.
                        if (!line.startsWith("debugfs") && !line.isBlank() && errors.size() < 5) {
                            errors.add(line);
                        }
                    })
                    .run();
            if (!errors.isEmpty()) {
                throw new IOException("debugfs could not set inode times: " + String.join("; ", errors));
            }
        } finally {
            Files.deleteIfExists(script);
        }
        if (!skipped.isEmpty()) {
            // Not worth failing a build over; kiln rebuild-check would show the difference.
            warn.accept("ext4: "
                    + skipped.size()
                    + " path(s) with a line break keep their build-time ctime, e.g. "
                    + skipped.get(0));
        }
        return n;
    }
}
