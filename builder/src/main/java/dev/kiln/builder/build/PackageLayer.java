package dev.kiln.builder.build;

import dev.kiln.builder.repro.SourceDate;
import dev.kiln.builder.spec.ImageSpec;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.util.Files2;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The package layer: a rootfs tarball made by mmdebstrap from the pinned package set. It is the
 * slow part of a build, so it is cached, keyed by everything that can change its bytes: the
 * sources, the mirror's state (Release files), the package set, the variant and kiln's own
 * initramfs scripts. Changing a template or a file reuses the cached layer.
 */
public final class PackageLayer {
    /** Bump when the way layers are made changes, so old cached layers are not reused. */
    private static final String RECIPE = "kiln-layer-v2"; // v2: made with SOURCE_DATE_EPOCH

    /** initramfs-tools extensions that make the PXE initrd fetch its root over HTTP. */
    static final List<String> INITRAMFS_FILES = List.of("initramfs/scripts/kiln", "initramfs/hooks/kiln");

    /** Docs, man pages and translations have no business on a node; copyright files stay (SBOM). */
    private static final List<String> DPKG_OPTIONS = List.of(
            "path-exclude=/usr/share/man/*",
            "path-exclude=/usr/share/doc/*",
            "path-include=/usr/share/doc/*/copyright",
            "path-exclude=/usr/share/locale/*",
            "path-include=/usr/share/locale/locale.alias",
            "path-exclude=/usr/share/info/*");

    private final Path cacheDir;

    public PackageLayer(Path cacheDir) {
        this.cacheDir = cacheDir.resolve("layers");
    }

    public record Layer(Path tarball, String key, boolean fromCache) {}

    public static String key(ImageSpec spec, PackagePlan plan, String mirrorState, SourceDate sourceDate)
            throws IOException {
        StringBuilder k = new StringBuilder(RECIPE).append('\n');
        k.append("source-date-epoch=").append(sourceDate.epoch()).append('\n');
        k.append("variant=").append(spec.base().variant()).append('\n');
        k.append("suite=").append(spec.base().suite()).append('\n');
        plan.sources().forEach(s -> k.append(s.debLine()).append('\n'));
        k.append("mirror-state=").append(mirrorState).append('\n');
        plan.aptArguments().forEach(a -> k.append("pkg=").append(a).append('\n'));
        DPKG_OPTIONS.forEach(o -> k.append("dpkg=").append(o).append('\n'));
        for (String f : INITRAMFS_FILES) {
            k.append(f).append('=').append(Hashing.sha256(builtin(f))).append('\n');
        }
        return Hashing.sha256(k.toString());
    }

    /** Returns the cached layer for this key, or builds it with mmdebstrap. */
    public Layer obtain(
            ImageSpec spec, PackagePlan plan, String key, SourceDate sourceDate, Path workDir, Progress.Step step)
            throws IOException {
        Path tarball = cacheDir.resolve(key + ".tar");
        if (Files.isRegularFile(tarball)) {
            step.detail("cached layer " + key.substring(0, 12));
            // Its mtime is its last use: kiln prune --cache-max drops the least recently used
            // first.
            try {
                Files.setLastModifiedTime(tarball, java.nio.file.attribute.FileTime.from(java.time.Instant.now()));
            } catch (IOException e) {
                // a read-only cache still serves; only the prune order suffers
            }
            return new Layer(tarball, key, true);
        }
        Files.createDirectories(cacheDir);
        sweepDeadPartials();
        Path scripts = workDir.resolve("initramfs");
        Path partial =
                cacheDir.resolve("." + key + "." + ProcessHandle.current().pid() + ".tar");
        try {
            Files.createDirectories(scripts);
            for (String f : INITRAMFS_FILES) {
                Path out = scripts.resolve(f.substring(f.indexOf('/') + 1));
                Files.createDirectories(out.getParent());
                Files.write(out, builtin(f));
                out.toFile().setExecutable(true, false);
            }
            List<String> cmd = new ArrayList<>(List.of(
                    "mmdebstrap",
                    "--variant=" + spec.base().variant(),
                    "--architectures=amd64",
                    "--include=" + String.join(",", plan.aptArguments()),
                    "--aptopt=Acquire::Retries \"3\"",
                    "--aptopt=APT::Install-Recommends \"false\""));
            DPKG_OPTIONS.forEach(o -> cmd.add("--dpkgopt=" + o));
            // Our initramfs script and hook must exist before the kernel's postinst builds the
            // initrd.
            cmd.add("--setup-hook=mkdir -p \"$1/etc/initramfs-tools/scripts\" \"$1/etc/initramfs-tools/hooks\"");
            cmd.add("--setup-hook=copy-in " + scripts.resolve("scripts/kiln") + " /etc/initramfs-tools/scripts");
            cmd.add("--setup-hook=copy-in " + scripts.resolve("hooks/kiln") + " /etc/initramfs-tools/hooks");
            cmd.add(spec.base().suite());
            cmd.add(partial.toString());
            plan.sources().forEach(s -> cmd.add(s.debLine()));
            // mmdebstrap's chroot lives in the build's work dir: a killed build leaves it there,
            // and
            // the store's sweep of dead stagings removes it (unmounting what mmdebstrap mounted).
            Path tmp = workDir.resolve("tmp");
            Files.createDirectories(tmp);
            // SOURCE_DATE_EPOCH makes mmdebstrap's tarball and what the packages' scripts make in
            // it
            // (the initrd: mkinitramfs clamps its cpio) the same on every run against this mirror
            // state.
            Exec.of(cmd)
                    .env("TMPDIR", tmp.toString())
                    .env("SOURCE_DATE_EPOCH", sourceDate.value())
                    .onLine(step::detail)
                    .run();
            Files.move(partial, tarball, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
            Files2.deleteRecursively(scripts);
        }
        return new Layer(tarball, key, false);
    }

    /** Partial layers of builds that died (".KEY.PID.tar" whose PID is gone). */
    private void sweepDeadPartials() throws IOException {
        try (java.util.stream.Stream<Path> files = Files.list(cacheDir)) {
            for (Path p : files.toList()) {
                String[] parts = p.getFileName().toString().split("\\.");
                if (parts.length == 4
                        && parts[0].isEmpty()
                        && parts[3].equals("tar")
                        && parts[2].matches("[0-9]+")
                        && ProcessHandle.of(Long.parseLong(parts[2]))
                                .map(h -> !h.isAlive())
                                .orElse(true)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    static byte[] builtin(String name) throws IOException {
        try (InputStream in = PackageLayer.class.getResourceAsStream(
                dev.kiln.builder.template.TemplateRenderer.BUILTIN_ROOT + "/" + name)) {
            if (in == null) {
                throw new IOException("kiln's built-in file " + name + " is missing from the jar (rebuild kiln)");
            }
            return in.readAllBytes();
        }
    }

    /** $KILN_CACHE, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln. */
    public static Path defaultCacheDir() {
        String env = System.getenv("KILN_CACHE");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("kiln");
    }
}
