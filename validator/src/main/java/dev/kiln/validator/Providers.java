package dev.kiln.validator;

import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Files2;
import dev.kiln.validator.provider.ContainerProvider;
import dev.kiln.validator.provider.NodeProvider;
import dev.kiln.validator.provider.QemuDiskProvider;
import dev.kiln.validator.provider.QemuPxeProvider;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/** The providers kiln validate knows, what each needs from an image, and cleaning up after them. */
final class Providers {
    static final String QEMU_PXE = "qemu-pxe";
    static final String QEMU_DISK = "qemu-disk";
    static final String CONTAINER = "container";
    static final List<String> NAMES = List.of(QEMU_PXE, QEMU_DISK, CONTAINER);
    /** The artifact each provider boots nodes from. */
    private static final Map<String, String> NEEDS = Map.of(QEMU_PXE, "pxe/rootfs.squashfs", QEMU_DISK, "disk/disk.raw",
            CONTAINER, "rootfs.tar");

    private Providers() { }

    /** qemu-pxe when the image has its pxe artifacts (nodes boot as on real PXE hardware), else container. */
    static String defaultFor(Manifest m) {
        return m.artifacts() != null && m.artifacts().containsKey(NEEDS.get(QEMU_PXE)) ? QEMU_PXE : CONTAINER;
    }

    /** Under emulation (no KVM) a 3-node QEMU cluster takes minutes; containers take seconds. */
    static Duration defaultTimeout(String provider) {
        return CONTAINER.equals(provider) ? Duration.ofSeconds(180) : Duration.ofSeconds(600);
    }

    /** Fails, naming the missing artifact, before anything is created. */
    static void checkUsable(String provider, Manifest m, Path versionDir) {
        Map<String, Manifest.Artifact> artifacts = m.artifacts() == null ? Map.of() : m.artifacts();
        String need = NEEDS.get(provider);
        if (need == null) {
            throw new IllegalArgumentException("--provider: unknown provider '" + provider + "'; expected one of "
                    + String.join(", ", NAMES));
        }
        if (!artifacts.containsKey(need) || !Files.isRegularFile(versionDir.resolve(need))) {
            throw new IllegalArgumentException("--provider " + provider + " needs " + need + " but " + m.ref()
                    + " has none in " + versionDir + " (its spec's outputs are " + m.outputs() + ")");
        }
    }

    static NodeProvider create(String provider, RunLabel run, Path versionDir, Manifest m, Consumer<String> log)
            throws IOException {
        return switch (provider) {
            case QEMU_PXE -> new QemuPxeProvider(run, versionDir, m, log);
            case QEMU_DISK -> new QemuDiskProvider(run, versionDir, log);
            case CONTAINER -> new ContainerProvider(run, versionDir, m, log);
            default -> throw new IllegalArgumentException("--provider: unknown provider '" + provider + "'");
        };
    }

    /** Everything of runs whose owner process is gone: provider resources, run directories, owner records. */
    static int cleanupStale(Path tmpRoot, Consumer<String> log) {
        return cleanupStale(tmpRoot, RunLabel::isLive, log);
    }

    /** As above, leaving alone every run {@code live} accepts (kiln lab down: all but its own). */
    static int cleanupStale(Path tmpRoot, Predicate<String> live, Consumer<String> log) {
        // Also removes qemu-pxe's leftovers: both QEMU providers build the same kind of network.
        int removed = QemuDiskProvider.cleanupStale(live, log);
        try {
            removed += ContainerProvider.cleanupStale(live, log);
        } catch (IOException e) {
            log.accept("containers not checked: " + e.getMessage());
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(tmpRoot, RunLabel.DIR_PREFIX + "kv*")) {
            for (Path d : dirs) {
                String id = d.getFileName().toString().substring(RunLabel.DIR_PREFIX.length());
                if (!live.test(id)) {
                    Files2.deleteRecursively(d);
                    log.accept("removed run directory " + d);
                    removed++;
                }
            }
        } catch (IOException e) {
            log.accept("could not list " + tmpRoot + ": " + e.getMessage());
        }
        try (DirectoryStream<Path> owners = Files.newDirectoryStream(RunLabel.OWNERS, "kv*")) {
            for (Path o : owners) {
                if (!live.test(o.getFileName().toString())) {
                    Files.deleteIfExists(o);
                }
            }
        } catch (java.nio.file.NoSuchFileException none) {
            // no run ever started here
        } catch (IOException e) {
            log.accept("could not list " + RunLabel.OWNERS + ": " + e.getMessage());
        }
        return removed;
    }
}
