package dev.kiln.machines;

import java.io.IOException;

/**
 * Something kiln can power and watch: a QEMU machine, a node container, a bare-metal server behind
 * its BMC. What a validation run, the lab and a rollout need of a node: power it on, off or through
 * a cycle, make its next boot a network (PXE) boot, ask whether it is on, and read the end of its
 * console or log.
 *
 * <p>Operations a kind of machine cannot do fail with {@link UnsupportedOperationException} naming
 * the machine (a container has no firmware to boot from the network).
 */
public interface Machine extends AutoCloseable {
    /** What {@link #powerState} reports. UNKNOWN when the machine cannot tell (a manual one). */
    enum PowerState {
        ON,
        OFF,
        UNKNOWN
    }

    /** The node's name, for messages. */
    String name();

    void powerOn() throws IOException, InterruptedException;

    /** Hard power off: no shutdown inside the node (it is replaced, never repaired). */
    void powerOff() throws IOException, InterruptedException;

    /** Off, then on (a hard reset where the machine has one). */
    default void powerCycle() throws IOException, InterruptedException {
        powerOff();
        powerOn();
    }

    PowerState powerState() throws IOException, InterruptedException;

    /** The next boot (and only the next) is from the network. */
    void bootOnceFromNetwork() throws IOException, InterruptedException;

    /** The last {@code lines} lines of the console or log, for reports; never throws. */
    String consoleTail(int lines);

    /**
     * Releases what this object holds; for machines kiln created (QEMU, containers) also removes
     * them.
     */
    @Override
    void close();
}
