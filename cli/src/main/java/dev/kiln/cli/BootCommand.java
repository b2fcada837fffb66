package dev.kiln.cli;

import dev.kiln.core.util.Files2;
import dev.kiln.machines.qemu.DiskOverlay;
import dev.kiln.machines.qemu.QemuMachine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "boot",
        mixinStandardHelpOptions = true,
        description = {
            "Boots an image's disk.raw in QEMU (KVM if it works, else emulation) without changing it.",
            "Interactive: the serial console is your terminal (Ctrl-A X quits QEMU). "
                    + "--check: boot headless, wait for the image to announce its identity, print it and stop."
        },
        footer = {
            "",
            "Examples:",
            "  kiln boot debian-node:1.0.0-20261127.1",
            "  kiln boot --check --firmware uefi debian-node:1.0.0-20261127.1",
            "  kiln boot --check --disk-size 8G debian-node:1.0.0-20261127.1   # the root grows to fill 8 GiB"
        })
final class BootCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION")
    String ref;

    @Option(
            names = "--firmware",
            defaultValue = "bios",
            paramLabel = "bios|uefi",
            description = "Firmware: bios (SeaBIOS) or uefi (OVMF). Default: ${DEFAULT-VALUE}.")
    String firmware;

    @Option(
            names = "--bus",
            defaultValue = "virtio",
            paramLabel = "virtio|nvme",
            description = "How the disk is attached: virtio, or nvme as on EC2 Nitro. Default: ${DEFAULT-VALUE}.")
    String bus;

    @Option(
            names = "--disk-size",
            paramLabel = "SIZE",
            description = "Boot from a disk of this size, e.g. 8G (at least "
                    + "disk.raw's): a copy-on-write overlay, removed afterwards; the node grows its root into it, as an AMI "
                    + "launched with a bigger volume. Default: disk.raw's own size.")
    String diskSize;

    @Option(
            names = "--check",
            description = "Headless: succeed once the node prints its identity, fail after --timeout.")
    boolean check;

    @Option(
            names = "--timeout",
            defaultValue = "300",
            paramLabel = "SECONDS",
            description = "With --check (default: ${DEFAULT-VALUE}).")
    int timeout;

    @Mixin
    StoreOption store;

    @Override
    public Integer call() throws Exception {
        Path disk = store.versionDir(ref).resolve("disk/disk.raw");
        if (!Files.isRegularFile(disk)) {
            throw new IllegalArgumentException(ref + " has no disk output (outputs in its spec must include 'disk')");
        }
        QemuMachine.Firmware fw = switch (firmware) {
            case "bios" -> QemuMachine.Firmware.BIOS;
            case "uefi" -> QemuMachine.Firmware.UEFI;
            default -> throw new IllegalArgumentException("--firmware: expected bios or uefi, got '" + firmware + "'");
        };
        QemuMachine.Bus diskBus = switch (bus) {
            case "virtio" -> QemuMachine.Bus.VIRTIO;
            case "nvme" -> QemuMachine.Bus.NVME;
            default -> throw new IllegalArgumentException("--bus: expected virtio or nvme, got '" + bus + "'");
        };
        long diskBytes = diskSize == null ? 0 : DiskOverlay.parseSize(diskSize, "--disk-size");
        Path work = Files.createTempDirectory("kiln-boot");
        // Ctrl-C skips the finally below: QEMU would outlive kiln, and the overlay can hold
        // gigabytes.
        Thread cleanup = new Thread(
                () -> {
                    ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
                    try {
                        Files2.deleteRecursively(work);
                    } catch (java.io.IOException ignored) {
                        // best effort at exit
                    }
                },
                "kiln-boot-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            if (diskSize != null) {
                disk = DiskOverlay.create(disk, diskBytes, work);
            }
            if (!check) {
                List<String> cmd = QemuMachine.command(disk, fw, diskBus, work, 1024);
                cmd.add("-nographic");
                return new ProcessBuilder(cmd).inheritIO().start().waitFor();
            }
            System.out.println("booting " + ref + " (" + firmware + "), waiting for it to announce itself ...");
            long start = System.nanoTime();
            try (QemuMachine vm = QemuMachine.start(disk, fw, diskBus, work)) {
                Matcher m = vm.await(Pattern.compile("kiln-image: (\\{.*\\})"), Duration.ofSeconds(timeout));
                System.out.printf("booted in %.0fs: %s%n", (System.nanoTime() - start) / 1e9, m.group(1));
                System.out.println(vm.await(Pattern.compile("kiln-boot: firmware=.*"), Duration.ofSeconds(30))
                        .group());
                // kiln-grow-root's line ("kiln-boot: root grown 1.7G -> 7.7G (...)") comes before
                // the identity.
                vm.find(Pattern.compile("kiln-boot: root .*")).ifPresent(r -> System.out.println(r.group()));
            }
            return 0;
        } finally {
            Files2.deleteRecursively(work);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }
}
