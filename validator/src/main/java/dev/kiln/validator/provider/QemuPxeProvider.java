package dev.kiln.validator.provider;

import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.pxe.DhcpConfig;
import dev.kiln.fleet.pxe.PxeService;
import dev.kiln.machines.qemu.Accel;
import dev.kiln.machines.qemu.DataDisk;
import dev.kiln.machines.qemu.QemuMachine;
import dev.kiln.machines.qemu.QemuVm;
import dev.kiln.validator.RunLabel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * Diskless QEMU machines on a private PXE network, booted exactly as on real hardware: DHCP points
 * QEMU's iPXE ROM at kiln serve's /boot.ipxe, the image's initramfs does DHCP again and fetches the
 * root squashfs over HTTP, then systemd-networkd does DHCP once more.
 *
 * <p>With the firmware boot chain the machines boot as a real server does: UEFI (OVMF) with no iPXE
 * option ROM on the NIC, so the firmware's own PXE runs. The namespace's dnsmasq plays the site's
 * DHCP server (addresses only, no boot options) and kiln's ProxyDHCP ({@link PxeService}, as kiln
 * serve --pxe proxy runs it) answers on the host's end of the network: firmware PXE → TFTP
 * snponly.efi → iPXE → /boot.ipxe → the image.
 *
 * <p>The network is a {@link NamespaceLan}: namespace kiln-RUNID with a bridge, one tap per machine
 * and dnsmasq; a veth pair joins it to the host, whose end gets .1 for kiln serve.
 */
public final class QemuPxeProvider implements NodeProvider {
    private final Path versionDir;
    private final Manifest manifest;
    private final Consumer<String> log;
    private final NamespaceLan lan;
    private final boolean firmwareChain;
    private final RunLabel run;
    private PxeService proxy;
    private DataDisks dataDisks = DataDisks.NONE;

    /**
     * @param versionDir the image's store directory (its pxe/vmlinuz proves KVM before use)
     * @param manifest the image, for sizing the machines' memory to its root squashfs
     * @param log receives one line per step, with timings
     */
    public QemuPxeProvider(RunLabel run, Path versionDir, Manifest manifest, Consumer<String> log) {
        this(run, versionDir, manifest, log, false);
    }

    /**
     * @param firmwareChain boot through UEFI firmware PXE and kiln's ProxyDHCP instead of QEMU's
     *     iPXE ROM
     */
    public QemuPxeProvider(
            RunLabel run, Path versionDir, Manifest manifest, Consumer<String> log, boolean firmwareChain) {
        this.firmwareChain = firmwareChain;
        this.run = run;
        this.versionDir = versionDir;
        this.manifest = manifest;
        this.log = log;
        this.lan = new NamespaceLan(run, name(), log);
    }

    /** Gives the machines data disks (virtio-blk, serial kiln-NODE-dN); before {@link #start}. */
    public QemuPxeProvider withDataDisks(DataDisks disks) {
        this.dataDisks = disks;
        return this;
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
        // An IPv6 router advertisement of the bridge's ULA prefix (router lifetime 0: no IPv6
        // default route) spares iPXE its ~13 s wait for one; nodes also get a SLAAC address in it.
        String ra =
                "enable-ra\n" + "dhcp-range=::,constructor:" + bridge + ",ra-only\n" + "ra-param=" + bridge + ",60,0\n";
        if (firmwareChain) {
            lan.startDhcp(nodes, "the site's DHCP server: addresses only, no boot options", ra);
            PxeService.InterfaceV4 host = PxeService.addressOf(lan.hostVeth());
            proxy = PxeService.start(
                    new DhcpConfig(
                            DhcpConfig.Mode.PROXY,
                            lan.hostVeth(),
                            host.address(),
                            host.network(),
                            host.netmask(),
                            null,
                            null,
                            serverUrl),
                    run.dir().resolve("kiln-pxe"),
                    line -> {
                        // The chain's progress, in dnsmasq's words: which firmware fetched
                        // which iPXE.
                        if (line.startsWith("dnsmasq-tftp") && line.contains(" sent ")) {
                            log.accept("kiln ProxyDHCP: " + line.replaceFirst("^dnsmasq-tftp\\[\\d+\\]: ", ""));
                        }
                    });
            log.accept("dnsmasq serving "
                    + nodes.size()
                    + " fixed address(es) without boot options; kiln's ProxyDHCP on "
                    + lan.hostVeth()
                    + " answers PXE (TFTP snponly.efi, then "
                    + serverUrl
                    + "/boot.ipxe) "
                    + NamespaceLan.millis(t0));
        } else {
            lan.startDhcp(
                    nodes,
                    "iPXE boots " + serverUrl + "/boot.ipxe",
                    // iPXE waits for ProxyDHCP offers (~2 s) unless told there are none (its option
                    // 175.176 no-pxedhcp).
                    "dhcp-option=encap:175,176,1b\n" + ra + "dhcp-boot=" + serverUrl + "/boot.ipxe\n");
            log.accept("dnsmasq serving "
                    + nodes.size()
                    + " fixed address(es), boot file "
                    + serverUrl
                    + "/boot.ipxe "
                    + NamespaceLan.millis(t0));
        }

        long t1 = System.nanoTime();
        String accel = Accel.choose(versionDir.resolve("pxe/vmlinuz"));
        log.accept("QEMU accelerator " + accel + " " + NamespaceLan.millis(t1));

        long t2 = System.nanoTime();
        List<QemuVm> machines = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            List<String> args = new ArrayList<>(Accel.args(accel));
            // One vCPU each: with several machines on a few cores, TCG's extra vCPU threads only
            // compete (3 nodes on 2 cores: ready after 97 s with -smp 1, 119 s with -smp 2).
            args.addAll(List.of("-nodefaults", "-m", String.valueOf(memoryMiB()), "-smp", "1", "-no-reboot"));
            String nic = "";
            args.addAll(DataDisk.attach(
                    dataDisks.of(nodes.get(i).name()),
                    lan.nodeDir(nodes.get(i).name()),
                    nodes.get(i).name(),
                    QemuMachine.Bus.VIRTIO));
            if (firmwareChain) {
                Path dir = Files.createDirectories(lan.nodeDir(nodes.get(i).name()));
                args.addAll(QemuMachine.uefiArgs(dir));
                // romfile= leaves the NIC without QEMU's iPXE ROM: OVMF's own PXE boots it.
                nic = ",romfile=,bootindex=1";
            } else {
                // No VGA, CD-ROM or floppy to probe; sgabios copies what the BIOS and iPXE print
                // to the serial console.
                args.addAll(List.of("-boot", "n", "-device", "sga"));
            }
            machines.add(lan.startMachine(nodes.get(i), "t" + i, args, nic));
        }
        NamespaceLan.checkMachinesStarted(machines);
        log.accept(nodes.size()
                + " diskless machine(s) PXE booting ("
                + (firmwareChain ? "UEFI firmware PXE, " : "")
                + accel
                + ", "
                + memoryMiB()
                + " MiB"
                + (dataDisks.isEmpty() ? "" : ", " + dataDisks.describe())
                + ") "
                + NamespaceLan.millis(t2));
    }

    /**
     * The root squashfs lives in a tmpfs and what is read from it is cached again: twice its size
     * on top of what the booted node needs (1024 MiB is plenty for debian-node's 124 MiB root).
     */
    private int memoryMiB() {
        Manifest.Artifact root =
                manifest.artifacts() == null ? null : manifest.artifacts().get("pxe/rootfs.squashfs");
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
        PxeService p = proxy;
        if (p != null) {
            p.close();
        }
        lan.close();
    }

    /**
     * Removes what crashed qemu-pxe or qemu-disk runs left behind of their networks: namespaces
     * kiln-kv*, QEMU and dnsmasq processes carrying a run's marker, host veths kv*h. Runs {@code
     * isLiveRun} accepts are left alone, and nothing without a run's marker is touched. Returns how
     * many were removed.
     */
    public static int cleanupStale(Predicate<String> isLiveRun, Consumer<String> log) {
        return NamespaceLan.cleanupStale(isLiveRun, log);
    }
}
