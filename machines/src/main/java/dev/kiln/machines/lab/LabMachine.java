package dev.kiln.machines.lab;

import dev.kiln.machines.Machine;
import java.io.IOException;

/**
 * One machine of the lab as its BMC sees it: the machine (a QEMU process) and the boot override
 * a BMC holds for it. An override "Once" to the network is handed to the machine at the next
 * power-on and then cleared, as firmware does.
 */
public final class LabMachine {
    /** What a BMC was told to boot next; NONE = the machine's own order. */
    public enum BootOverride { NONE, PXE, DISK }

    private final Machine machine;
    private BootOverride override = BootOverride.NONE;
    private boolean once = true;

    public LabMachine(Machine machine) {
        this.machine = machine;
    }

    public String name() {
        return machine.name();
    }

    public Machine machine() {
        return machine;
    }

    public synchronized boolean isOn() throws IOException, InterruptedException {
        return machine.powerState() == Machine.PowerState.ON;
    }

    public synchronized void powerOn() throws IOException, InterruptedException {
        if (isOn()) {
            return;
        }
        if (override == BootOverride.PXE) {
            machine.bootOnceFromNetwork();
        }
        if (once) {
            override = BootOverride.NONE;
        }
        machine.powerOn();
    }

    public synchronized void powerOff() throws IOException, InterruptedException {
        machine.powerOff();
    }

    /** Off and on again; a machine that is off is only switched on. */
    public synchronized void reset() throws IOException, InterruptedException {
        machine.powerOff();
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
