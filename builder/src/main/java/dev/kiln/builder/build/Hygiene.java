package dev.kiln.builder.build;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * What must not be baked into a golden image: a machine identity, host keys, package lists and
 * caches, and anything secret that the build used. {@link #clean} removes them; {@link #verify} is
 * run on every build afterwards and fails it if anything is left.
 */
final class Hygiene {
    /** Directories searched for private key material. */
    private static final List<String> SECRET_DIRS = List.of("etc", "root", "home", "opt", "var/lib/kiln", "usr/local");

    private static final String PRIVATE_KEY = "PRIVATE KEY-----";

    private Hygiene() {}

    static void clean(Path root) throws IOException {
        // Empty machine-id: systemd generates a fresh one on each node's first boot.
        Files.writeString(root.resolve("etc/machine-id"), "");
        Files.deleteIfExists(root.resolve("var/lib/dbus/machine-id"));
        deleteMatching(root.resolve("etc/ssh"), n -> n.startsWith("ssh_host_"));
        deleteMatching(root.resolve("var/lib/apt/lists"), n -> !n.equals("lock") && !n.equals("partial"));
        deleteMatching(root.resolve("var/cache/apt"), n -> n.endsWith(".bin"));
        deleteMatching(root.resolve("var/cache/apt/archives"), n -> n.endsWith(".deb"));
        deleteMatching(root.resolve("etc/apt/auth.conf.d"), n -> true);
        deleteMatching(root.resolve("etc/ssl/private"), n -> n.startsWith("ssl-cert-snakeoil"));
        Files.deleteIfExists(root.resolve("etc/ssl/certs/ssl-cert-snakeoil.pem"));
        deleteMatching(root.resolve("tmp"), n -> true);
        deleteMatching(root.resolve("var/tmp"), n -> true);
        Files.deleteIfExists(root.resolve("root/.bash_history"));
        // The build host's name and resolver must not leak into nodes.
        Files.writeString(root.resolve("etc/hostname"), "localhost\n");
        Path resolv = root.resolve("etc/resolv.conf");
        if (Files.isRegularFile(resolv, LinkOption.NOFOLLOW_LINKS)) {
            Files.writeString(resolv, "");
        }
    }

    /** Every hygiene rule the image breaks, as "path: reason"; empty when clean. */
    static List<String> verify(Path root) throws IOException {
        List<String> bad = new ArrayList<>();
        Path machineId = root.resolve("etc/machine-id");
        if (!Files.isRegularFile(machineId) || Files.size(machineId) != 0) {
            bad.add("/etc/machine-id: must exist and be empty so every node generates its own");
        }
        if (Files.exists(root.resolve("var/lib/dbus/machine-id"), LinkOption.NOFOLLOW_LINKS)
                && !Files.isSymbolicLink(root.resolve("var/lib/dbus/machine-id"))) {
            bad.add("/var/lib/dbus/machine-id: a baked machine identity");
        }
        list(root, "etc/ssh", n -> n.startsWith("ssh_host_"), bad, "an SSH host key baked into the image");
        list(
                root,
                "var/lib/apt/lists",
                n -> !n.equals("lock") && !n.equals("partial"),
                bad,
                "apt lists left in the image");
        list(root, "var/cache/apt/archives", n -> n.endsWith(".deb"), bad, "a cached package left in the image");
        list(root, "var/cache/apt", n -> n.endsWith(".bin"), bad, "apt cache left in the image");
        list(root, "etc/apt/auth.conf.d", n -> true, bad, "apt credentials left in the image");
        for (String d : SECRET_DIRS) {
            Path dir = root.resolve(d);
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path f : files.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                        .toList()) {
                    if (Files.size(f) < 64 * 1024 && containsPrivateKey(f)) {
                        bad.add("/" + root.relativize(f) + ": contains a private key");
                    }
                }
            }
        }
        return bad;
    }

    private static boolean containsPrivateKey(Path f) throws IOException {
        return new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1).contains(PRIVATE_KEY);
    }

    private static void deleteMatching(Path dir, java.util.function.Predicate<String> name) throws IOException {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p :
                    entries.filter(p -> name.test(p.getFileName().toString())).toList()) {
                dev.kiln.core.util.Files2.deleteRecursively(p);
            }
        }
    }

    private static void list(
            Path root, String rel, java.util.function.Predicate<String> name, List<String> out, String why)
            throws IOException {
        Path dir = root.resolve(rel);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p :
                    entries.filter(p -> name.test(p.getFileName().toString())).toList()) {
                out.add("/" + root.relativize(p) + ": " + why);
            }
        }
    }
}
