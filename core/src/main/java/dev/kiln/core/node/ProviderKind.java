package dev.kiln.core.node;

import dev.kiln.core.store.Output;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Where a throwaway cluster's nodes run (kiln validate --provider), the output each one boots, and
 * whether its nodes have a kernel of their own. Validation records and promotion gates name them.
 */
public enum ProviderKind {
    QEMU_PXE("qemu-pxe", Output.PXE, true),
    QEMU_DISK("qemu-disk", Output.DISK, true),
    CONTAINER("container", Output.ROOTFS_TAR, false);

    private final String wire;
    private final Output boots;
    private final boolean ownKernel;

    ProviderKind(String wire, Output boots, boolean ownKernel) {
        this.wire = wire;
        this.boots = boots;
        this.ownKernel = ownKernel;
    }

    public String wire() {
        return wire;
    }

    /** The output whose artifact the provider's nodes boot. */
    public Output boots() {
        return boots;
    }

    /** False for containers, which run the host's kernel: kernel checks are skipped there. */
    public boolean ownKernel() {
        return ownKernel;
    }

    public static Optional<ProviderKind> parse(String name) {
        return Arrays.stream(values()).filter(p -> p.wire.equals(name)).findFirst();
    }

    public static List<String> wireNames() {
        return Arrays.stream(values()).map(ProviderKind::wire).toList();
    }

    @Override
    public String toString() {
        return wire;
    }
}
