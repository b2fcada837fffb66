package dev.kiln.machines.lab;

import dev.kiln.machines.Machine;
import java.io.IOException;

/**
 * One machine of the lab as its BMC sees it: the machine (a QEMU process) and the boot override a
 * BMC holds for it. An override "Once" to the network is handed to the machine at the next power-on
 * and then cleared, as firmware does.
 */
public final class LabMachine {
    /** What a BMC was told to boot next; NONE = the machine's own order. */
    public enum BootOverride {
        NONE,
        PXE,
        DISK
    }

    private final String name;
    private Machine machine;
    private BootOverride override = BootOverride.NONE;
    private boolean once = true;

    public LabMachine(Machine machine) {
        this.name = machine.name();
        this.machine = machine;
    }

    /**
     * A machine whose BMC starts before it exists (the BMC's address goes into the inventory
     * first).
     */
    public LabMachine(String name) {
        this.name = name;
    }

    /** Puts the machine behind this BMC. */
    public synchronized void attach(Machine m) {
        this.machine = m;
    }

    public String name() {
        return name;
    }

    public synchronized Machine machine() throws IOException {
        if (machine == null) {
            throw new IOException("lab machine " + name + " does not exist yet");
        }
        return machine;
    }

    public synchronized boolean isOn() throws IOException, InterruptedException {
        return machine != null && machine.powerState() == Machine.PowerState.ON;
    }

    public synchronized void powerOn() throws IOException, InterruptedException {
        if (isOn()) {
            return;
        }
        Machine m = machine();
        if (override == BootOverride.PXE) {
            m.bootOnceFromNetwork();
        }
        if (once) {
            override = BootOverride.NONE;
        }
        m.powerOn();
    }

    public synchronized void powerOff() throws IOException, InterruptedException {
        machine().powerOff();
    }

    /** Off and on again; a machine that is off is only switched on. */
    public synchronized void reset() throws IOException, InterruptedException {
        machine().powerOff();
        powerOn();
    }

    public synchronized BootOverride override() {
        return override;
    }

    /** True when the override applies to the next boot only. */
    public synchronized boolean once() {
        return once;
    }

    public synchronized void setOverride(BootOverride override, boolean once) {
        this.override = override;
        this.once = once;
    }
}
