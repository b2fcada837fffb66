package dev.kiln.builder.build;

import dev.kiln.builder.spec.RenderedFile;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Turns an extracted package layer into the image's root: downloaded components, preloaded
 * container images, rendered files, the placeholder registry the node agent reads, the image's
 * identity, and enabled units. Works on a plain directory; never chroots or runs image code.
 */
final class RootfsAssembler {
    /**
     * Where the node agent finds which files hold runtime placeholders and where they come from.
     */
    static final String PLACEHOLDER_REGISTRY = "etc/kiln/placeholders.json";

    /** Pristine copies of placeholder files, so filling them is repeatable on every boot. */
    static final String PLACEHOLDER_ORIGINALS = "usr/lib/kiln/placeholder-files";

    static final String IDENTITY = "etc/kiln/image.json";
    static final String PRELOAD_DIR = "var/lib/kiln/images";

    private final Path root;
    private final Map<String, Integer> users;
    private final Map<String, Integer> groups;

    RootfsAssembler(Path root) throws IOException {
        this.root = root;
        this.users = idTable(root.resolve("etc/passwd"));
        this.groups = idTable(root.resolve("etc/group"));
    }

    static void extract(Path tarball, Path root) throws IOException {
        Files.createDirectories(root);
        Exec.of(
                        "tar",
                        "--extract",
                        "--file=" + tarball,
                        "--directory=" + root,
                        "--numeric-owner",
                        "--preserve-permissions",
                        "--same-owner",
                        "--xattrs",
                        "--xattrs-include=*")
                .run();
    }

    /** The single kernel release the layer installed (what uname -r will print). */
    String kernelRelease() throws IOException {
        Path modules = root.resolve("usr/lib/modules");
        if (!Files.isDirectory(modules)) {
            modules = root.resolve("lib/modules");
        }
        List<String> releases;
        try (Stream<Path> s = Files.list(modules)) {
            releases = s.map(p -> p.getFileName().toString())
                    .filter(r -> Files.isRegularFile(root.resolve("boot/vmlinuz-" + r)))
                    .sorted()
                    .toList();
        }
        if (releases.size() != 1) {
            throw new IOException("expected exactly one kernel in the image, found "
                    + releases
                    + "; install only the kernel named in 'kernel.package'");
        }
        return releases.get(0);
    }

    void installBinary(Path source, String target, String mode) throws IOException {
        Path dest = inside(target);
        Files.createDirectories(dest.getParent());
        Files.copy(source, dest, StandardCopyOption.REPLACE_EXISTING);
        chmod(dest, Integer.parseInt(mode == null ? "0755" : mode, 8));
    }

    void extractArchive(Path archive, String targetDir) throws IOException {
        Path dest = inside(targetDir);
        Files.createDirectories(dest);
        Exec.of("tar", "--extract", "--file=" + archive, "--directory=" + dest, "--no-same-owner")
                .run();
    }

    void preloadImage(Path archive, String name) throws IOException {
        Path dest = inside("/" + PRELOAD_DIR + "/" + name + ".tar");
        Files.createDirectories(dest.getParent());
        Files.copy(archive, dest, StandardCopyOption.REPLACE_EXISTING);
        chmod(dest, 0644);
    }

    void writeFile(RenderedFile f) throws IOException {
        writeText(f.path(), f.content(), f.mode(), f.owner());
        if (f.hasPlaceholders()) {
            writeText("/" + PLACEHOLDER_ORIGINALS + f.path(), f.content(), 0644, "root:root");
        }
    }

    void writeText(String path, String content, int mode, String owner) throws IOException {
        Path dest = inside(path);
        Files.createDirectories(dest.getParent());
        if (Files.isSymbolicLink(dest)) {
            Files.delete(dest);
        }
        Files.writeString(dest, content);
        chmod(dest, mode);
        chown(dest, owner, path);
    }

    /** Declares which files hold which placeholders, and the metadata key of each placeholder. */
    void writePlaceholderRegistry(Map<String, String> placeholders, List<RenderedFile> files) throws IOException {
        Map<String, Object> registry = new LinkedHashMap<>();
        registry.put("placeholders", placeholders);
        Map<String, List<String>> byFile = new LinkedHashMap<>();
        for (RenderedFile f : files) {
            if (f.hasPlaceholders()) {
                byFile.put(f.path(), new ArrayList<>(f.placeholders()));
            }
        }
        registry.put("files", byFile);
        registry.put("originals", "/" + PLACEHOLDER_ORIGINALS);
        writeText("/" + PLACEHOLDER_REGISTRY, Json.COMPACT.writeValueAsString(registry) + "\n", 0644, "root:root");
    }

    void writeIdentity(Map<String, Object> identity) throws IOException {
        writeText("/" + IDENTITY, Json.COMPACT.writeValueAsString(identity) + "\n", 0644, "root:root");
    }

    /** Enables or disables units offline with systemctl --root (creates the .wants symlinks). */
    void units(List<String> enable, List<String> disable) throws IOException {
        if (!enable.isEmpty()) {
            systemctl("enable", enable);
        }
        if (!disable.isEmpty()) {
            systemctl("disable", disable);
        }
    }

    private void systemctl(String verb, List<String> units) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("systemctl", "--root=" + root, "--no-reload", verb));
        cmd.addAll(units);
        try {
            Exec.of(cmd).run();
        } catch (dev.kiln.core.exec.ExecException e) {
            throw new IOException(
                    "units."
                            + verb
                            + ": systemctl could not "
                            + verb
                            + " "
                            + units
                            + " in the image (is each unit installed by a package or declared under 'files'?)\n"
                            + e.getMessage(),
                    e);
        }
    }

    /** Resolves a path in the image, refusing anything that would land outside it. */
    Path inside(String imagePath) throws IOException {
        Path p = root.resolve(imagePath.substring(1)).normalize();
        if (!p.startsWith(root)) {
            throw new IOException("path escapes the image root: " + imagePath);
        }
        // A symlinked parent (e.g. /lib -> usr/lib) must be resolved inside the image, not on the
        // host.
        Path parent = p.getParent();
        Path rel = root.relativize(parent);
        Path cur = root;
        for (Path part : rel) {
            cur = cur.resolve(part);
            if (Files.isSymbolicLink(cur)) {
                Path target = Files.readSymbolicLink(cur);
                cur = (target.isAbsolute()
                                ? root.resolve(target.toString().substring(1))
                                : cur.getParent().resolve(target))
                        .normalize();
                if (!cur.startsWith(root)) {
                    throw new IOException("path escapes the image root through a symlink: " + imagePath);
                }
            }
        }
        return cur.resolve(p.getFileName());
    }

    private void chown(Path p, String owner, String imagePath) throws IOException {
        String[] ug = owner.split(":", 2);
        Integer uid = users.get(ug[0]);
        Integer gid = groups.get(ug[1]);
        if (uid == null || gid == null) {
            throw new IOException(
                    imagePath + ": owner " + owner + " does not exist in the image's /etc/passwd or /etc/group");
        }
        Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    }

    static void chmod(Path p, int mode) throws IOException {
        Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ
        };
        for (int i = 0; i < order.length; i++) {
            if ((mode & (1 << i)) != 0) {
                perms.add(order[i]);
            }
        }
        Files.setPosixFilePermissions(p, perms);
        if ((mode & 07000) != 0) {
            Exec.of("chmod", Integer.toOctalString(mode), p.toString()).run();
        }
    }

    private static Map<String, Integer> idTable(Path file) throws IOException {
        Map<String, Integer> ids = new HashMap<>();
        if (Files.isRegularFile(file)) {
            for (String line : Files.readAllLines(file)) {
                String[] f = line.split(":");
                if (f.length >= 3) {
                    ids.put(f[0], Integer.parseInt(f[2]));
                }
            }
        }
        return ids;
    }
}
