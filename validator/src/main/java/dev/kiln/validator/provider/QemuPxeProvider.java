package dev.kiln.validator.provider;

import dev.kiln.machines.qemu.Accel;
import dev.kiln.machines.qemu.QemuVm;
import dev.kiln.core.store.Manifest;
import dev.kiln.validator.RunLabel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Diskless QEMU machines on a private PXE network, booted exactly as on real hardware: DHCP
 * points QEMU's iPXE ROM at kiln serve's /boot.ipxe, the image's initramfs does DHCP again and
 * fetches the root squashfs over HTTP, then systemd-networkd does DHCP once more.
 *
 * <p>The network is a {@link NamespaceLan}: namespace kiln-RUNID with a bridge, one tap per
 * machine and dnsmasq; a veth pair joins it to the host, whose end gets .1 for kiln serve.
 */
public final class QemuPxeProvider implements NodeProvider {
    private final Path versionDir;
    private final Manifest manifest;
    private final Consumer<String> log;
    private final NamespaceLan lan;

    /**
     * @param versionDir the image's store directory (its pxe/vmlinuz proves KVM before use)
     * @param manifest   the image, for sizing the machines' memory to its root squashfs
     * @param log        receives one line per step, with timings
     */
    public QemuPxeProvider(RunLabel run, Path versionDir, Manifest manifest, Consumer<String> log) {
        this.versionDir = versionDir;
        this.manifest = manifest;
        this.log = log;
        this.lan = new NamespaceLan(run, name(), log);
    }

    @Override
    public String name() {
        return "qemu-pxe";
    }

    @Override
    public boolean sharesHostKernel() {
        return false;
    }

    @Override
    public Lan createNetwork(int nodes) throws IOException, InterruptedException {
        return lan.create(nodes);
    }

    @Override
    public void start(List<NodeBoot> nodes, String serverUrl) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        String bridge = lan.bridge();
        lan.startDhcp(nodes, "iPXE boots " + serverUrl + "/boot.ipxe",
                // iPXE waits for ProxyDHCP offers (~2 s) unless told there are none (its option
                // 175.176 no-pxedhcp), and for an IPv6 router advertisement (~13 s) unless one
                // comes: advertise the bridge's ULA prefix, with router lifetime 0 (no IPv6
                // default route). 15 s less per boot; nodes also get a SLAAC address in it.
                "dhcp-option=encap:175,176,1b\n"
                + "enable-ra\n"
                + "dhcp-range=::,constructor:" + bridge + ",ra-only\n"
                + "ra-param=" + bridge + ",60,0\n"
                + "dhcp-boot=" + serverUrl + "/boot.ipxe\n");
        log.accept("dnsmasq serving " + nodes.size() + " fixed address(es), boot file " + serverUrl + "/boot.ipxe "
                + NamespaceLan.millis(t0));

        long t1 = System.nanoTime();
        String accel = Accel.choose(versionDir.resolve("pxe/vmlinuz"));
        log.accept("QEMU accelerator " + accel + " " + NamespaceLan.millis(t1));

        long t2 = System.nanoTime();
        List<QemuVm> machines = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            List<String> args = new ArrayList<>(Accel.args(accel));
            // One vCPU each: with several machines on a few cores, TCG's extra vCPU threads only
            // compete (3 nodes on 2 cores: ready after 97 s with -smp 1, 119 s with -smp 2).
            args.addAll(List.of("-nodefaults", "-m", String.valueOf(memoryMiB()), "-smp", "1", "-boot", "n",
                    "-no-reboot",
                    // No VGA, CD-ROM or floppy to probe; sgabios copies what the BIOS and iPXE
                    // print to the serial console.
                    "-device", "sga"));
            machines.add(lan.startMachine(nodes.get(i), "t" + i, args, ""));
        }
        NamespaceLan.checkMachinesStarted(machines);
        log.accept(nodes.size() + " diskless machine(s) PXE booting (" + accel + ", " + memoryMiB() + " MiB) "
                + NamespaceLan.millis(t2));
    }

    /**
     * The root squashfs lives in a tmpfs and what is read from it is cached again: twice its size
     * on top of what the booted node needs (1024 MiB is plenty for debian-node's 124 MiB root).
     */
    private int memoryMiB() {
        Manifest.Artifact root = manifest.artifacts() == null ? null : manifest.artifacts().get("pxe/rootfs.squashfs");
        long squashMiB = root == null ? 512 : (root.size() + (1 << 20) - 1) >> 20;
        return (int) Math.max(1024, 768 + squashMiB * 2);
    }

    @Override
    public Map<String, QemuVm> machines() {
        return lan.machines();
    }

    @Override
    public String consoleTail(String node, int lines) {
        return lan.consoleTail(node, lines);
    }

    @Override
    public void close() {
        lan.close();
    }

    /**
     * Removes what crashed qemu-pxe or qemu-disk runs left behind of their networks: namespaces
     * kiln-kv*, QEMU and dnsmasq processes carrying a run's marker, host veths kv*h. Runs
     * {@code isLiveRun} accepts are left alone, and nothing without a run's marker is touched.
     * Returns how many were removed.
     */
    public static int cleanupStale(Predicate<String> isLiveRun, Consumer<String> log) {
        return NamespaceLan.cleanupStale(isLiveRun, log);
    }
}
