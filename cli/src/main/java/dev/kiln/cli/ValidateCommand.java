package dev.kiln.cli;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageSource;
import dev.kiln.validator.RunLabel;
import dev.kiln.validator.ValidationReport;
import dev.kiln.validator.Validator;
import dev.kiln.validator.provider.DataDisks;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(
        name = "validate",
        mixinStandardHelpOptions = true,
        description = {
            "Proves an image by booting a throwaway cluster from it: nodes get generated metadata from an "
                    + "in-process kiln serve, bootstrap by role, run the checks of the spec's validation section and "
                    + "report them. Everything the run creates is removed at the end, also on failure and Ctrl-C.",
            "Providers: qemu-pxe (diskless QEMU machines on a private PXE network: network namespace, bridge, "
                    + "dnsmasq, iPXE), qemu-disk (QEMU machines booting disk/disk.raw under UEFI from NVMe, as an "
                    + "EC2 instance boots the AMI made from it, with their metadata as user data from an "
                    + "IMDSv2 at 169.254.169.254; needs iptables), container (systemd containers from rootfs.tar on the local dockerd; "
                    + "the kernel is the host's, so kernel checks are skipped).",
            "Writes report.json and junit.xml, records the verdict in the store (validation.json beside the "
                    + "manifest; for an S3 store, in its local cache). Exit status: 0 validated, 1 failed, 2 bad usage."
        },
        footer = {
            "",
            "Examples:",
            "  kiln validate debian-node:1.0.0-20261127.1",
            "  kiln validate --provider container --masters 1 --workers 2 --report out/ debian-node:1.0.0-20261127.1",
            "  kiln validate --provider qemu-disk --disk-size 8G debian-node:1.0.0-20261127.1   # as an AMI on an 8 GiB volume",
            "  kiln validate --masters 3 --workers 0 --data-disk 8G debian-node:1.0.0-20261127.1   # etcd on node-local disks",
            "  kiln validate --pxe-boot firmware debian-node:1.0.0-20261127.1   # UEFI firmware PXE + kiln ProxyDHCP, as real servers",
            "  kiln validate --store s3://my-images/kiln --region eu-west-1 debian-node:1.0.0-20261127.1",
            "  kiln validate --cleanup        # remove what a crashed run left behind"
        })
final class ValidateCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME:VERSION", arity = "0..1")
    String ref;

    @Option(
            names = "--provider",
            paramLabel = "qemu-pxe|qemu-disk|container",
            description = "Where nodes run. Default: qemu-pxe when the image has a pxe output, else container.")
    String provider;

    @Option(
            names = "--masters",
            defaultValue = "1",
            description = "Masters (the first creates the cluster). Default: ${DEFAULT-VALUE}.")
    int masters;

    @Option(names = "--workers", defaultValue = "2", description = "Workers. Default: ${DEFAULT-VALUE}.")
    int workers;

    @Option(
            names = "--timeout",
            paramLabel = "SECONDS",
            description =
                    "For the whole cluster to bootstrap and check. Default: 600 (qemu-pxe, qemu-disk), 180 (container).")
    Integer timeout;

    @Option(
            names = "--disk-size",
            paramLabel = "SIZE",
            description =
                    "qemu-disk: each node's disk size, e.g. 8G "
                            + "(at least disk.raw's; copy-on-write, the image never changes). Nodes grow their root into it, as on an "
                            + "AMI launched with a bigger volume; the summary shows each node's root. Default: disk.raw's own size.")
    String diskSize;

    @Option(
            names = "--data-disk",
            paramLabel = "SIZE",
            description = "qemu-pxe, qemu-disk: give every machine a blank data disk of SIZE, e.g. 8G (repeat for"
                    + " several): a sparse file in the run directory, virtio-blk (qemu-pxe) or NVMe (qemu-disk)"
                    + " with serial kiln-NODE-dN, for a spec with storage:. Containers have none; their nodes"
                    + " say their storage was skipped.")
    List<String> dataDisks;

    @Option(
            names = "--pxe-boot",
            defaultValue = "rom",
            paramLabel = "rom|firmware",
            description =
                    "qemu-pxe: how machines reach iPXE. rom: QEMU's iPXE option ROM (fast). firmware: UEFI firmware PXE"
                            + " with no iPXE ROM, beside a DHCP server that gives addresses only, and kiln's ProxyDHCP (TFTP"
                            + " snponly.efi, then boot.ipxe): the chain a real server goes through. Default: ${DEFAULT-VALUE}.")
    String pxeBoot;

    @Option(
            names = "--report",
            paramLabel = "DIR",
            description = "Where report.json and junit.xml go. " + "Default: kiln-reports/NAME-VERSION-RUN.")
    Path report;

    @Option(
            names = "--cleanup",
            description = "Remove containers, networks, namespaces, NAT rules, processes and run "
                    + "directories of validation runs whose kiln process is gone, then exit.")
    boolean cleanup;

    @Mixin
    ImageSourceOptions images;

    @Spec
    CommandSpec spec;

    private boolean firmwarePxe() {
        return PxeBoot.firmware(pxeBoot);
    }

    @Override
    public Integer call() throws Exception {
        if (cleanup) {
            int n = Validator.cleanup(RunLabel.defaultTmpRoot(), System.out::println);
            System.out.println(n == 0 ? "nothing left behind by earlier runs" : "removed " + n + " leftover(s)");
            return 0;
        }
        // The in-process kiln serve would log every node request; the run prints its own step
        // lines.
        System.setProperty("org.slf4j.simpleLogger.log.dev.kiln.fleet", "warn");
        if (ref == null) {
            throw new ParameterException(
                    spec.commandLine(), "expected the image to validate, NAME:VERSION (or --cleanup)");
        }
        if (provider != null && !Validator.PROVIDERS.contains(provider)) {
            throw new ParameterException(
                    spec.commandLine(),
                    "--provider: unknown provider '"
                            + provider
                            + "'; expected one of "
                            + String.join(", ", Validator.PROVIDERS));
        }
        if (masters < 1 || workers < 0) {
            throw new ParameterException(spec.commandLine(), "--masters must be at least 1 and --workers at least 0");
        }
        Long diskBytes = null;
        if (diskSize != null) {
            try {
                diskBytes = dev.kiln.machines.qemu.DiskOverlay.parseSize(diskSize, "--disk-size");
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
        }
        DataDisks disks;
        try {
            disks = DataDisks.parse(dataDisks, "--data-disk");
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        ImageRef image = ImageRef.parse(ref);
        try (ImageSource source = images.open()) {
            ValidationReport r = Validator.run(new Validator.Request(
                    source,
                    image,
                    provider,
                    masters,
                    workers,
                    timeout == null ? null : Duration.ofSeconds(timeout),
                    report,
                    RunLabel.defaultTmpRoot(),
                    System.out::println,
                    diskBytes,
                    firmwarePxe(),
                    disks));
            return r.passed() ? 0 : 1;
        }
    }
}
