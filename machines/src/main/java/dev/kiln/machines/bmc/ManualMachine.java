package dev.kiln.machines.bmc;

import dev.kiln.machines.Machine;
import java.util.function.Consumer;

/**
 * A machine without a BMC kiln can drive: each operation tells the operator what to do to it.
 * Seeing the node come back is the caller's part (kiln serve shows the node's next boot).
 */
public final class ManualMachine implements Machine {
    private final String node;
    private final Consumer<String> tell;

    /**
     * @param tell where instructions for the operator go (the console)
     */
    public ManualMachine(String node, Consumer<String> tell) {
        this.node = node;
        this.tell = tell;
    }

    @Override
    public String name() {
        return node;
    }

    @Override
    public void powerOn() {
        tell.accept("node " + node + ": power it on by hand (front panel or PDU)");
    }

    @Override
    public void powerOff() {
        tell.accept("node " + node + ": power it off by hand (hold the power button, or switch its PDU outlet off)");
    }

    @Override
    public void powerCycle() {
        tell.accept("node " + node + ": power-cycle it by hand (off, wait 10 s, on)");
    }

    @Override
    public PowerState powerState() {
        return PowerState.UNKNOWN;
    }

    @Override
    public void bootOnceFromNetwork() {
        tell.accept("node "
                + node
                + ": choose network (PXE) boot in its firmware's boot menu at the next start"
                + " (often F12)");
    }

    @Override
    public String consoleTail(int lines) {
        return "(no console: node " + node + " is operated by hand)";
    }

    @Override
    public void close() {
        // nothing held
    }
}
