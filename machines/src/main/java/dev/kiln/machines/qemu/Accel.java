package dev.kiln.machines.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Picks QEMU's accelerator: KVM when it really works, software emulation (TCG) otherwise.
 *
 * <p>A present /dev/kvm is not enough: nested or restricted hosts open it fine and then hang or
 * crash the guest. So KVM is proven once per process by booting a kernel for a few seconds and
 * waiting for its first console line. KILN_QEMU_ACCEL=kvm|tcg skips the probe.
 */
public final class Accel {
    private static String chosen;

    private Accel() {}

    /** "kvm" or "tcg". {@code probeKernel} may be null, in which case KVM is trusted if present. */
    public static synchronized String choose(Path probeKernel) {
        if (chosen != null) {
            return chosen;
        }
        String env = System.getenv("KILN_QEMU_ACCEL");
        if (env != null && (env.equals("kvm") || env.equals("tcg"))) {
            return chosen = env;
        }
        Path kvm = Path.of("/dev/kvm");
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            return chosen = "tcg";
        }
        if (probeKernel == null || !Files.isRegularFile(probeKernel)) {
            return "kvm";
        }
        return chosen = kvmBoots(probeKernel) ? "kvm" : "tcg";
    }

    private static boolean kvmBoots(Path kernel) {
        Path log = null;
        Process p = null;
        try {
            log = Files.createTempFile("kiln-kvm-probe", ".log");
            p = new ProcessBuilder(
                            "qemu-system-x86_64",
                            "-machine",
                            "pc,accel=kvm",
                            "-cpu",
                            "host",
                            "-m",
                            "256",
                            "-display",
                            "none",
                            "-monitor",
                            "none",
                            "-nodefaults",
                            "-no-reboot",
                            "-serial",
                            "file:" + log,
                            "-kernel",
                            kernel.toString(),
                            "-append",
                            "console=ttyS0 panic=-1")
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
            while (System.nanoTime() < deadline) {
                if (new String(Files.readAllBytes(log), StandardCharsets.UTF_8).contains("Linux version")) {
                    return true;
                }
                if (!p.isAlive()) {
                    return false;
                }
                Thread.sleep(200);
            }
            return false;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (p != null) {
                p.destroyForcibly();
                try {
                    p.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (log != null) {
                try {
                    Files.deleteIfExists(log);
                } catch (IOException ignored) {
                    // temp file; nothing else to do
                }
            }
        }
    }

    /** QEMU arguments for the chosen accelerator. */
    public static java.util.List<String> args(String accel) {
        return accel.equals("kvm")
                ? java.util.List.of("-machine", "pc,accel=kvm", "-cpu", "host")
                : java.util.List.of("-machine", "pc,accel=tcg");
    }
}
