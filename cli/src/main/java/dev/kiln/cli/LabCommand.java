package dev.kiln.cli;

import dev.kiln.core.store.ImageRef;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.InventoryLoader;
import dev.kiln.machines.Machine;
import dev.kiln.validator.Lab;
import dev.kiln.validator.LabControl;
import dev.kiln.validator.RunLabel;
import dev.kiln.validator.Validator;
import dev.kiln.validator.power.BmcMachines;
import dev.kiln.validator.provider.DataDisks;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "lab",
        mixinStandardHelpOptions = true,
        description = {
            "A local PXE fleet behind real BMC protocols, to try kiln bmc and rollouts before hardware:",
            "diskless QEMU machines on a private network (namespace, bridge, dnsmasq), a kiln serve with a",
            "generated inventory whose nodes have bmc: entries, and one BMC per machine: OpenIPMI's ipmi_sim",
            "(--bmc ipmi) or the lab's Redfish service over HTTPS (--bmc redfish). Needs root."
        },
        subcommands = {LabCommand.Up.class, LabCommand.Status.class, LabCommand.Down.class, LabCommand.Run.class},
        footer = {
            "",
            "Examples:",
            "  kiln lab up --image debian-node:1.0.0-20261127.1 --masters 1 --workers 1 --bmc ipmi",
            "  kiln lab status",
            "  kiln bmc cycle --inventory ~/.local/state/kiln/lab/inventory.yaml w1",
            "  kiln lab down          # or: kiln lab down --all (also labs whose process is gone)"
        })
final class LabCommand {
    static Path defaultDir() {
        return Path.of(System.getProperty("user.home"), ".local", "state", "kiln", "lab");
    }

    static final class DirOption {
        @Option(
                names = "--dir",
                paramLabel = "DIR",
                description = "The lab's directory: inventory.yaml, bmc.pass, bmc-ca.pem, lab.json, lab.log."
                        + " Default: ~/.local/state/kiln/lab.")
        Path dir;

        Path get() {
            return dir != null ? dir : defaultDir();
        }
    }

    @Command(
            name = "up",
            mixinStandardHelpOptions = true,
            description = "Starts a lab in the background and returns once its machines are booting.",
            footer = {
                "",
                "Example:",
                "  kiln lab up --image debian-node:1.0.0-20261127.1 --masters 1 --workers 1 --bmc redfish",
                "  kiln lab up --image debian-node:1.0.0-20261127.1 --masters 3 --workers 0 --data-disk 8G"
            })
    static final class Up implements Callable<Integer> {
        @Mixin
        LabArgs args;

        @Override
        public Integer call() throws Exception {
            Path dir = args.dir.get();
            DataDisks.parse(args.dataDisks, "--data-disk"); // a bad size fails here, not in the background
            if (LabControl.read(dir).isPresent()) {
                throw new IllegalArgumentException(
                        "a lab already lives in " + dir + " (kiln lab status; kiln lab down)");
            }
            Files.createDirectories(dir);
            Path log = dir.resolve("lab.log");
            List<String> cmd = new ArrayList<>(List.of(
                    "setsid",
                    ProcessHandle.current().info().command().orElse("java"),
                    "-cp",
                    System.getProperty("java.class.path"),
                    Main.class.getName(),
                    "lab",
                    "run"));
            cmd.addAll(args.toArgs());
            // Its own session: the lab outlives this command and the terminal's Ctrl-C.
            Process p = new ProcessBuilder(cmd)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            Thread abort = new Thread(() -> {
                if (LabControl.readQuietly(dir).isEmpty()) {
                    p.toHandle().descendants().forEach(ProcessHandle::destroy);
                    p.destroy();
                }
            });
            Runtime.getRuntime().addShutdownHook(abort);
            long shown = 0;
            long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
            while (true) {
                shown = show(log, shown);
                if (LabControl.read(dir).isPresent()) {
                    Runtime.getRuntime().removeShutdownHook(abort);
                    System.out.println("inventory for kiln bmc: " + dir.resolve("inventory.yaml"));
                    return 0;
                }
                if (!p.isAlive() && p.toHandle().descendants().findAny().isEmpty()) {
                    show(log, shown);
                    throw new IOException("the lab did not start (see " + log + ")");
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("the lab did not come up within 5 minutes (see " + log + ")");
                }
                Thread.sleep(300);
            }
        }

        private static long show(Path log, long from) throws IOException {
            if (!Files.exists(log)) {
                return from;
            }
            byte[] all = Files.readAllBytes(log);
            if (all.length > from) {
                System.out.print(new String(all, (int) from, (int) (all.length - from), StandardCharsets.UTF_8));
            }
            return all.length;
        }
    }

    static final class LabArgs {
        @Option(
                names = "--image",
                required = true,
                paramLabel = "NAME:VERSION",
                description = "The image the machines PXE boot.")
        String image;

        @Option(names = "--masters", defaultValue = "1", description = "Masters. Default: ${DEFAULT-VALUE}.")
        int masters;

        @Option(names = "--workers", defaultValue = "1", description = "Workers. Default: ${DEFAULT-VALUE}.")
        int workers;

        @Option(
                names = "--bmc",
                defaultValue = "ipmi",
                paramLabel = "ipmi|redfish|mixed",
                description = "The machines' BMCs (mixed: ipmi and Redfish alternate). Default: ${DEFAULT-VALUE}.")
        String bmc;

        @Option(
                names = "--pxe-boot",
                defaultValue = "rom",
                paramLabel = "rom|firmware",
                description = "rom: QEMU's iPXE option ROM (fast). firmware: UEFI firmware PXE, no iPXE ROM, kiln's"
                        + " ProxyDHCP beside a DHCP server that gives addresses only: a real server's chain."
                        + " Default: ${DEFAULT-VALUE}.")
        String pxeBoot;

        @Option(
                names = "--data-disk",
                paramLabel = "SIZE",
                description = "Give every machine a blank data disk of SIZE, e.g. 8G (repeat for several; virtio-blk,"
                        + " serial kiln-NODE-dN), for images with storage:. They live and die with the lab.")
        List<String> dataDisks;

        @Mixin
        DirOption dir;

        @Mixin
        StoreOption store;

        List<String> toArgs() {
            List<String> a = new ArrayList<>(List.of(
                    "--image",
                    image,
                    "--masters",
                    String.valueOf(masters),
                    "--workers",
                    String.valueOf(workers),
                    "--bmc",
                    bmc,
                    "--pxe-boot",
                    pxeBoot,
                    "--dir",
                    dir.get().toAbsolutePath().toString()));
            if (store.store != null) {
                a.addAll(List.of("--store", store.store.toAbsolutePath().toString()));
            }
            for (String d : dataDisks == null ? List.<String>of() : dataDisks) {
                a.addAll(List.of("--data-disk", d));
            }
            return a;
        }
    }

    @Command(name = "run", hidden = true, description = "The lab's own process (what kiln lab up starts).")
    static final class Run implements Callable<Integer> {
        @Mixin
        LabArgs args;

        @Override
        public Integer call() throws Exception {
            Lab lab = Lab.start(new Lab.Request(
                    args.store.open(),
                    ImageRef.parse(args.image),
                    args.masters,
                    args.workers,
                    args.bmc,
                    args.dir.get(),
                    RunLabel.defaultTmpRoot(),
                    line -> {
                        System.out.println(line);
                        System.out.flush();
                    },
                    PxeBoot.firmware(args.pxeBoot),
                    DataDisks.parse(args.dataDisks, "--data-disk")));
            // The lab's kiln serve runs the rollout controller, as a real one does.
            dev.kiln.rollout.RolloutController rollouts;
            try {
                rollouts = dev.kiln.rollout.RolloutController.attach(
                        lab.server(), new dev.kiln.rollout.FleetDrivers(lab.server(), null));
            } catch (Exception e) {
                lab.close();
                throw e;
            }
            System.out.println("rollouts: kiln rollout plan --cluster " + lab.clusterName() + " --server "
                    + lab.server().publicUrl() + " --token " + lab.server().operatorToken());
            System.out.flush();
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                rollouts.close();
                lab.close();
                stopped.countDown();
            }));
            stopped.await();
            return 0;
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = "Machines, BMC endpoints, power states and what each node last reported to kiln serve.",
            footer = {"", "Example:", "  kiln lab status --dir /tmp/mylab"})
    static final class Status implements Callable<Integer> {
        @Mixin
        DirOption dir;

        @Mixin
        StoreOption store;

        @Override
        public Integer call() throws Exception {
            Optional<Lab.State> s = LabControl.read(dir.get());
            if (s.isEmpty()) {
                System.out.println("no lab in " + dir.get());
                return 1;
            }
            Lab.State st = s.get();
            System.out.println("lab "
                    + st.runId()
                    + " (pid "
                    + st.pid()
                    + (LabControl.isLive(st) ? ", running" : ", GONE: kiln lab down")
                    + "): "
                    + st.image()
                    + ", kiln serve "
                    + st.serveUrl());
            Inventory inv = InventoryLoader.load(Path.of(st.inventory()), store.open());
            List<String[]> rows = new ArrayList<>();
            rows.add(new String[] {"NODE", "ROLE", "MAC", "ADDRESS", "BMC", "POWER"});
            for (Lab.MachineInfo m : st.machines()) {
                String power;
                Inventory.Member member = inv.members().stream()
                        .filter(x -> x.name().equals(m.name()))
                        .findFirst()
                        .orElseThrow();
                try (Machine machine =
                        BmcMachines.of(member, Path.of(st.inventory()), Duration.ofSeconds(5), x -> {})) {
                    power = machine.powerState().name().toLowerCase();
                } catch (Exception e) {
                    power = "? (" + e.getMessage() + ")";
                }
                rows.add(
                        new String[] {m.name(), m.role(), m.mac(), m.address(), m.bmc() + " " + m.bmcAddress(), power});
            }
            Format.table(rows).forEach(System.out::println);
            System.out.println();
            System.out.println("what the nodes report (kiln nodes --server " + st.serveUrl() + "):");
            new picocli.CommandLine(new NodesCommand()).execute("--server", st.serveUrl());
            return 0;
        }
    }

    @Command(
            name = "down",
            mixinStandardHelpOptions = true,
            description = {
                "Stops the lab: machines, BMCs, kiln serve, network, processes, files.",
                "--all also removes what labs (and validation runs) whose kiln process is gone left behind."
            },
            footer = {"", "Examples:", "  kiln lab down", "  kiln lab down --all"})
    static final class Down implements Callable<Integer> {
        @Mixin
        DirOption dir;

        @Option(names = "--all", description = "Also clear labs and runs whose owner process is gone.")
        boolean all;

        @Override
        public Integer call() throws Exception {
            boolean had = LabControl.down(dir.get(), RunLabel.defaultTmpRoot(), System.out::println);
            if (all) {
                int n = Validator.cleanup(RunLabel.defaultTmpRoot(), System.out::println);
                System.out.println("removed " + n + " leftover(s) of labs and runs whose process is gone");
            } else if (!had) {
                System.out.println("no lab in " + dir.get());
            }
            return 0;
        }
    }
}
