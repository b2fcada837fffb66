package dev.kiln.machines.qemu;

import dev.kiln.core.util.ConsoleText;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One QEMU machine booting a kiln disk image, its serial console captured to a file. Uses KVM when
 * the host has it and falls back to software emulation (TCG) otherwise. The disk is opened with
 * -snapshot, so booting never changes the image in the store. Closing kills the machine.
 */
public final class QemuMachine implements AutoCloseable {
    public enum Firmware {
        BIOS,
        UEFI
    }

    /** How the disk is attached: virtio-blk, or NVMe as on EC2 Nitro instances. */
    public enum Bus {
        VIRTIO,
        NVME
    }

    static final Path OVMF_CODE = Path.of("/usr/share/OVMF/OVMF_CODE.fd");
    static final Path OVMF_VARS = Path.of("/usr/share/OVMF/OVMF_VARS.fd");

    private final Process process;
    private final Path console;

    /** Where the monitor socket is, or null (netboot machines have none). */
    private final Path monitorDir;

    private QemuMachine(Process process, Path console, Path monitorDir) {
        this.process = process;
        this.console = console;
        this.monitorDir = monitorDir;
    }

    /** The QEMU command line that boots {@code disk}; {@code workDir} holds firmware variables. */
    public static List<String> command(Path disk, Firmware firmware, Bus bus, Path workDir, int memoryMiB)
            throws IOException {
        // The image's own kernel (pxe/vmlinuz beside disk/) proves KVM works before we rely on it.
        Path probe = DiskOverlay.imageOf(disk)
                .toAbsolutePath()
                .getParent()
                .resolveSibling("pxe")
                .resolve("vmlinuz");
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64"));
        cmd.addAll(Accel.args(Accel.choose(probe)));
        cmd.addAll(List.of("-m", String.valueOf(memoryMiB), "-smp", "2"));
        cmd.addAll(diskArgs(disk, bus));
        cmd.addAll(List.of("-nic", "user,model=virtio-net-pci", "-no-reboot"));
        if (firmware == Firmware.UEFI) {
            cmd.addAll(uefiArgs(workDir));
        }
        return cmd;
    }

    /**
     * {@code disk} as the boot disk, under a throwaway overlay (-snapshot): the image never
     * changes. A {@link DiskOverlay} already is one (its backing image is opened read-only) and
     * keeps its writes.
     */
    public static List<String> diskArgs(Path disk, Bus bus) {
        List<String> drive = DiskOverlay.isOverlay(disk)
                ? List.of("-drive", "if=none,id=disk0,format=qcow2,file=" + disk)
                : List.of("-drive", "if=none,id=disk0,format=raw,file=" + disk, "-snapshot");
        return Stream.concat(
                        drive.stream(),
                        Stream.of(
                                "-device",
                                bus == Bus.NVME
                                        ? "nvme,drive=disk0,serial=kiln0,bootindex=0"
                                        : "virtio-blk-pci,drive=disk0,bootindex=0"))
                .toList();
    }

    /** Fails with what to install when the host has no OVMF (UEFI firmware). */
    public static void requireOvmf() throws IOException {
        if (!Files.isRegularFile(OVMF_CODE) || !Files.isRegularFile(OVMF_VARS)) {
            throw new IOException("UEFI boot needs OVMF (" + OVMF_CODE + "); install the Debian package 'ovmf'");
        }
    }

    /** UEFI firmware, with a copy of OVMF's variables in {@code workDir} (one per machine). */
    public static List<String> uefiArgs(Path workDir) throws IOException {
        requireOvmf();
        Path vars = workDir.resolve("OVMF_VARS.fd");
        Files.copy(OVMF_VARS, vars, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return List.of(
                "-drive",
                "if=pflash,format=raw,unit=0,readonly=on,file=" + OVMF_CODE,
                "-drive",
                "if=pflash,format=raw,unit=1,file=" + vars);
    }

    /**
     * Starts the machine headless; its serial console goes to {@code workDir/console.log}, its
     * monitor listens on {@code workDir/monitor.sock} (for {@link #shutdown}).
     */
    public static QemuMachine start(Path disk, Firmware firmware, Bus bus, Path workDir) throws IOException {
        Files.createDirectories(workDir);
        Path console = workDir.resolve("console.log");
        List<String> cmd = command(disk, firmware, bus, workDir, 1024);
        cmd.addAll(List.of(
                "-display", "none", "-monitor", GuestShutdown.monitorArg(workDir), "-serial", "file:" + console));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(workDir.resolve("qemu.log").toFile())
                .start();
        return new QemuMachine(p, console, workDir);
    }

    /**
     * Shuts the guest down cleanly (Ctrl-Alt-Del: systemd stops every unit and unmounts, then
     * reboots, which -no-reboot turns into QEMU exiting) and waits for QEMU to exit, so the disk is
     * clean for whoever reads it next. Fails with the console's end if it does not stop in time.
     */
    public void shutdown(Duration timeout) throws IOException, InterruptedException {
        if (monitorDir == null) {
            throw new IllegalStateException("this machine has no monitor to shut it down through");
        }
        GuestShutdown.ctrlAltDelete(monitorDir);
        if (!process.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
            throw new IOException("the machine did not stop within "
                    + timeout.toSeconds()
                    + " s of Ctrl-Alt-Del; console ends with:\n"
                    + tail());
        }
    }

    /**
     * Starts a diskless machine that PXE-boots: QEMU's own DHCP hands its iPXE ROM {@code
     * bootfileUrl}. In QEMU user networking the host's loopback is 10.0.2.2 and the guest gets
     * 10.0.2.15. {@code probeKernel} proves KVM before it is relied on (may be null).
     */
    public static QemuMachine startNetboot(
            String mac, String bootfileUrl, Path probeKernel, Path workDir, int memoryMiB) throws IOException {
        Files.createDirectories(workDir);
        Path console = workDir.resolve("console.log");
        List<String> cmd = new ArrayList<>(List.of("qemu-system-x86_64"));
        cmd.addAll(Accel.args(Accel.choose(probeKernel)));
        cmd.addAll(List.of(
                "-m",
                String.valueOf(memoryMiB),
                "-smp",
                "2",
                "-boot",
                "n",
                "-no-reboot",
                "-nic",
                "user,model=virtio-net-pci,mac=" + mac + ",bootfile=" + bootfileUrl,
                "-display",
                "none",
                "-monitor",
                "none",
                "-serial",
                "file:" + console));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(workDir.resolve("qemu.log").toFile())
                .start();
        return new QemuMachine(p, console, null);
    }

    /**
     * Waits until a console line matches, and returns the match. Fails with the end of the console
     * when the machine stops or the deadline passes, so a hang never goes unexplained.
     */
    public Matcher await(Pattern pattern, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<Matcher> m = find(pattern);
            if (m.isPresent()) {
                return m.get();
            }
            if (!process.isAlive()) {
                throw new IOException("the machine stopped (exit "
                        + process.exitValue()
                        + ") before the console showed /"
                        + pattern
                        + "/; console ends with:\n"
                        + tail());
            }
            Thread.sleep(500);
        }
        throw new IOException("no console line matched /"
                + pattern
                + "/ within "
                + timeout.toSeconds()
                + " s; console ends with:\n"
                + tail());
    }

    /** The first console line so far that matches, if any. */
    public Optional<Matcher> find(Pattern pattern) throws IOException {
        if (!Files.exists(console)) {
            return Optional.empty();
        }
        for (String line : consoleText().split("\r?\n")) {
            Matcher m = pattern.matcher(line);
            if (m.find()) {
                return Optional.of(m);
            }
        }
        return Optional.empty();
    }

    public String consoleText() throws IOException {
        return Files.exists(console) ? new String(Files.readAllBytes(console), StandardCharsets.UTF_8) : "";
    }

    private String tail() throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String line : ConsoleText.tail(consoleText(), 25).split("\n")) {
            sb.append("  | ").append(line).append('\n');
        }
        return sb.toString();
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
