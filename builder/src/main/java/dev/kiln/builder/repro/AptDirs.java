package dev.kiln.builder.repro;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;

/**
 * apt's partial download directories belong to its sandbox user {@code _apt}, unless mmdebstrap
 * found that _apt cannot reach the build directory (a parent of the store that is not world
 * readable, like a 0700 home or temp directory) and downloaded as root: then they belong to root.
 * So where a version is built would show in its bytes. They are set as apt sets them on a running
 * system: _apt's uid (from the image's own /etc/passwd), group root.
 */
public final class AptDirs {
    static final List<String> PARTIAL = List.of("var/cache/apt/archives/partial", "var/lib/apt/lists/partial");

    private AptDirs() {}

    public static void normalize(Path root) throws IOException {
        Integer uid = null;
        Path passwd = root.resolve("etc/passwd");
        if (Files.isRegularFile(passwd)) {
            for (String line : Files.readAllLines(passwd)) {
                String[] f = line.split(":");
                if (f.length >= 3 && f[0].equals("_apt")) {
                    uid = Integer.parseInt(f[2]);
                }
            }
        }
        for (String d : PARTIAL) {
            Path p = root.resolve(d);
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                Files.setAttribute(p, "unix:uid", uid != null ? uid : 0, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(p, "unix:gid", 0, LinkOption.NOFOLLOW_LINKS);
            }
        }
    }
}
