package dev.kiln.validator;

import dev.kiln.core.node.ProviderKind;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.Output;
import dev.kiln.core.util.Files2;
import dev.kiln.validator.provider.ContainerProvider;
import dev.kiln.validator.provider.DataDisks;
import dev.kiln.validator.provider.NodeProvider;
import dev.kiln.validator.provider.QemuDiskProvider;
import dev.kiln.validator.provider.QemuPxeProvider;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/** The providers kiln validate knows, what each needs from an image, and cleaning up after them. */
final class Providers {
    private Providers() {}

    /**
     * qemu-pxe when the image has its pxe artifacts (nodes boot as on real PXE hardware), else
     * container.
     */
    static String defaultFor(Manifest m) {
        return (Output.PXE.in(m) ? ProviderKind.QEMU_PXE : ProviderKind.CONTAINER).wire();
    }

    /** Under emulation (no KVM) a 3-node QEMU cluster takes minutes; containers take seconds. */
    static Duration defaultTimeout(String provider) {
        return ProviderKind.CONTAINER.wire().equals(provider) ? Duration.ofSeconds(180) : Duration.ofSeconds(600);
    }

    /** Fails, naming the missing artifact, before anything is created. */
    static void checkUsable(String provider, Manifest m, Path versionDir) {
        Map<String, Manifest.Artifact> artifacts = m.artifacts() == null ? Map.of() : m.artifacts();
        String need = kind(provider).boots().artifact();
        if (!artifacts.containsKey(need) || !Files.isRegularFile(versionDir.resolve(need))) {
            throw new IllegalArgumentException("--provider "
                    + provider
                    + " needs "
                    + need
                    + " but "
                    + m.ref()
                    + " has none in "
                    + versionDir
                    + " (its spec's outputs are "
                    + m.outputs()
                    + ")");
        }
    }

    /**
     * @param diskBytes qemu-disk's disk size per node, or null for the image's own
     */
    static NodeProvider create(
            String provider,
            RunLabel run,
            Path versionDir,
            Manifest m,
            Consumer<String> log,
            Long diskBytes,
            boolean firmwarePxe,
            DataDisks dataDisks)
            throws IOException {
        return switch (kind(provider)) {
            case QEMU_PXE -> new QemuPxeProvider(run, versionDir, m, log, firmwarePxe).withDataDisks(dataDisks);
            case QEMU_DISK -> new QemuDiskProvider(run, versionDir, log, diskBytes).withDataDisks(dataDisks);
            case CONTAINER -> new ContainerProvider(run, versionDir, m, log);
        };
    }

    static ProviderKind kind(String provider) {
        return ProviderKind.parse(provider)
                .orElseThrow(() -> new IllegalArgumentException("--provider: unknown provider '"
                        + provider
                        + "'; expected one of "
                        + String.join(", ", ProviderKind.wireNames())));
    }

    /**
     * Everything of runs whose owner process is gone: provider resources, run directories, owner
     * records.
     */
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
