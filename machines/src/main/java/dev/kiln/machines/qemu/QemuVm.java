package dev.kiln.machines.qemu;

import dev.kiln.core.util.ConsoleText;
import dev.kiln.machines.Machine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A headless QEMU machine built from its command line: the caller gives the machine's own arguments
 * (accelerator, memory, firmware, disks), and optionally a launcher prefix (e.g. {@code ip netns
 * exec NS}) and a tap its NIC sits on. Power is process control: on starts QEMU, off kills it, a
 * cycle does both. The serial console goes to {@code workDir/console.log} and QEMU's own messages
 * to {@code workDir/qemu.log}; a console of an earlier power-on is kept in {@code
 * console.previous.log}, so the current boot is always console.log.
 */
public final class QemuVm implements Machine {
    /** Starts QEMU's process; a network that must kill what it started on close passes its own. */
    @FunctionalInterface
    public interface Launcher {
        Process start(ProcessBuilder pb) throws IOException;
    }

    /**
     * The machine's NIC on an existing tap device.
     *
     * @param deviceOptions appended to the virtio-net device, e.g. ",romfile=" for no iPXE ROM
     */
    public record Nic(String tap, String mac, String deviceOptions) {
        public Nic {
            Objects.requireNonNull(tap);
            Objects.requireNonNull(mac);
            deviceOptions = deviceOptions == null ? "" : deviceOptions;
        }
    }

    private final String name;
    private final List<String> prefix;
    private final String processName;
    private final List<String> machineArgs;
    private final Nic nic;
    private final Path workDir;
    private final Launcher launcher;

    /** Guarded by this. */
    private Process process;

    private boolean pxeOnce;
    private boolean closed;

    private QemuVm(Builder b) {
        this.name = b.name;
        this.prefix = List.copyOf(b.prefix);
        this.processName = b.processName == null ? b.name : b.processName;
        this.machineArgs = List.copyOf(b.machineArgs);
        this.nic = b.nic;
        this.workDir = b.workDir;
        this.launcher = b.launcher;
    }

    /**
     * @param workDir the machine's directory: console.log, qemu.log, firmware variables
     */
    public static Builder builder(String name, Path workDir) {
        return new Builder(name, workDir);
    }

    public static final class Builder {
        private final String name;
        private final Path workDir;
        private List<String> prefix = List.of();
        private String processName;
        private List<String> machineArgs = List.of();
        private Nic nic;
        private Launcher launcher = ProcessBuilder::start;

        private Builder(String name, Path workDir) {
            this.name = Objects.requireNonNull(name);
            this.workDir = Objects.requireNonNull(workDir);
        }

        /**
         * What runs QEMU, e.g. {@code ip netns exec NS}; it must exec QEMU (killing it kills QEMU).
         */
        public Builder launcher(List<String> prefix) {
            this.prefix = prefix;
            return this;
        }

        /**
         * QEMU's -name, which shows in the process list (cleanup markers go here); default the
         * name.
         */
        public Builder processName(String processName) {
            this.processName = processName;
            return this;
        }

        public Builder args(List<String> machineArgs) {
            this.machineArgs = machineArgs;
            return this;
        }

        public Builder nic(Nic nic) {
            this.nic = nic;
            return this;
        }

        public Builder startWith(Launcher launcher) {
            this.launcher = launcher;
            return this;
        }

        public QemuVm build() {
            return new QemuVm(this);
        }
    }

    @Override
    public String name() {
        return name;
    }

    public Path workDir() {
        return workDir;
    }

    public Path consoleLog() {
        return workDir.resolve("console.log");
    }

    /**
     * The full command line a power-on runs (for a BMC emulator that starts the machine itself).
     */
    public List<String> command() {
        return command(false);
    }

    private List<String> command(boolean networkOnce) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("qemu-system-x86_64", "-name", processName));
        cmd.addAll(machineArgs);
        if (networkOnce && !machineArgs.contains("-boot")) {
            cmd.addAll(List.of("-boot", "once=n"));
        }
        if (nic != null) {
            cmd.addAll(List.of(
                    "-netdev",
                    "tap,id=n0,ifname=" + nic.tap() + ",script=no,downscript=no",
                    "-device",
                    "virtio-net-pci,netdev=n0,mac=" + nic.mac() + nic.deviceOptions()));
        }
        cmd.addAll(List.of("-display", "none", "-monitor", "none", "-serial", "file:" + consoleLog()));
        return cmd;
    }

    /** Starts QEMU unless it runs already. */
    @Override
    public synchronized void powerOn() throws IOException {
        if (closed) {
            throw new IOException("machine " + name + " is closed; not starting it");
        }
        if (process != null && process.isAlive()) {
            return;
        }
        Files.createDirectories(workDir);
        keepPreviousConsole();
        List<String> cmd = command(pxeOnce);
        pxeOnce = false;
        process = launcher.start(new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(workDir.resolve("qemu.log").toFile()));
    }

    private void keepPreviousConsole() throws IOException {
        Path console = consoleLog();
        if (Files.exists(console) && Files.size(console) > 0) {
            Files.write(
                    workDir.resolve("console.previous.log"),
                    Files.readAllBytes(console),
                    StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
            Files.delete(console);
        }
    }

    /** Kills QEMU (a hard power off) and waits for it. */
    @Override
    public void powerOff() throws InterruptedException {
        Process p;
        synchronized (this) {
            p = process;
        }
        if (p != null) {
            p.destroyForcibly();
            p.waitFor();
        }
    }

    @Override
    public synchronized PowerState powerState() {
        return process != null && process.isAlive() ? PowerState.ON : PowerState.OFF;
    }

    /** QEMU's process id while it runs. */
    public synchronized java.util.OptionalLong pid() {
        return process != null && process.isAlive()
                ? java.util.OptionalLong.of(process.pid())
                : java.util.OptionalLong.empty();
    }

    /**
     * The next power-on boots from the network ({@code -boot once=n}) unless the arguments set
     * -boot.
     */
    @Override
    public synchronized void bootOnceFromNetwork() {
        pxeOnce = true;
    }

    /**
     * QEMU fails on a bad tap or option at once; later trouble shows on the console. Fails with
     * qemu.log when the process has exited.
     */
    public synchronized void checkRunning() throws IOException {
        if (process != null && !process.isAlive()) {
            throw new IOException("QEMU of node "
                    + name
                    + " exited at once (status "
                    + process.exitValue()
                    + "): "
                    + read(workDir.resolve("qemu.log")).strip());
        }
    }

    public String consoleText() {
        return read(consoleLog());
    }

    @Override
    public String consoleTail(int lines) {
        return ConsoleText.tail(consoleText(), lines);
    }

    /** Kills the machine; its files stay (the caller owns the work directory). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        try {
            powerOff();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String read(Path file) {
        try {
            return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }
}
