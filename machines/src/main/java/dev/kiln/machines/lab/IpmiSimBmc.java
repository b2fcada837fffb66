package dev.kiln.machines.lab;

import dev.kiln.machines.bmc.BmcEndpoint;
import dev.kiln.machines.bmc.IpmiMachine;
import dev.kiln.machines.bmc.Secret;
import dev.kiln.machines.qemu.QemuVm;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;

/**
 * One lab machine's IPMI BMC: OpenIPMI's {@code ipmi_sim} on a loopback UDP port, with one admin
 * user. Its {@code chassis_control} program (sh + curl, written here) sends power on/off, reset and
 * the boot device to the lab's {@link PowerPanel}, which starts and stops the machine's QEMU.
 * Everything lives in {@code dir}: lan.conf (holds the BMC's password, mode 0600), the emulator
 * commands, the program, ipmi_sim's state.
 */
public final class IpmiSimBmc implements AutoCloseable {
    /**
     * The cipher suite the lab's clients name. ipmi_sim never answers Get Channel Cipher Suites, so
     * an ipmitool left to discover the suite waits out its whole -N timeout before every command
     * (a replacement's five commands cost 100 s). Suite 3 (RAKP-HMAC-SHA1, HMAC-SHA1-96,
     * AES-CBC-128) is one ipmi_sim offers with its md5 users, as most BMCs do.
     */
    public static final int CIPHER_SUITE = 3;

    private final Process process;
    private final String address;
    private final String user;
    private final Secret password;

    private IpmiSimBmc(Process process, String address, String user, Secret password) {
        this.process = process;
        this.address = address;
        this.user = user;
        this.password = password;
    }

    /**
     * Starts ipmi_sim for {@code machine} and waits until it answers over IPMI.
     *
     * @param launcher starts the process (the lab's, so its teardown kills it)
     */
    public static IpmiSimBmc start(LabMachine machine, PowerPanel panel, Path dir, QemuVm.Launcher launcher)
            throws IOException, InterruptedException {
        byte[] b = new byte[8];
        new SecureRandom().nextBytes(b);
        return startWithPassword(
                machine, panel, dir, launcher, Secret.of(HexFormat.of().formatHex(b), "the lab"));
    }

    /**
     * As {@link #start}, with the admin user's password given (IPMI 2.0 allows up to 20
     * characters).
     */
    public static IpmiSimBmc startWithPassword(
            LabMachine machine, PowerPanel panel, Path dir, QemuVm.Launcher launcher, Secret password)
            throws IOException, InterruptedException {
        Files.createDirectories(dir.resolve("state"));
        String user = "admin";
        int port;
        try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        Path token = dir.resolve("panel.token");
        writePrivate(token, panel.token() + "\n");
        Path chassis = dir.resolve("chassis-control");
        Files.writeString(chassis, """
                #!/bin/sh
                # ipmi_sim chassis_control of lab machine %2$s: DEV get PARM... | DEV set PARM VAL...
                # Power and boot device go to the lab's power panel, which runs the machine's QEMU.
                panel=%1$s/%2$s
                tok=$(cat '%3$s') || exit 1
                c() { curl -sf -m 60 -H "Authorization: Bearer $tok" "$@"; }
                op=$2
                shift 2
                case $op in
                get)
                    for p in "$@"; do
                        case $p in
                        power|boot) v=$(c "$panel/$p") || exit 1; echo "$p:$v" ;;
                        *) echo "unsupported: $p"; exit 1 ;;
                        esac
                    done ;;
                set)
                    while [ $# -ge 2 ]; do
                        case $1 in
                        power|boot) c -X POST "$panel/$1/$2" >/dev/null || exit 1 ;;
                        reset) c -X POST "$panel/reset" >/dev/null || exit 1 ;;
                        *) echo "unsupported: $1"; exit 1 ;;
                        esac
                        shift 2
                    done ;;
                *) echo "unknown operation $op"; exit 1 ;;
                esac
                """.formatted(panel.url(), machine.name(), token));
        Files.setPosixFilePermissions(chassis, PosixFilePermissions.fromString("rwx------"));
        Path lanConf = dir.resolve("lan.conf");
        writePrivate(lanConf, """
                # kiln lab: the IPMI BMC of machine %1$s
                name "kiln-%1$s"
                set_working_mc 0x20
                  startlan 1
                    addr 127.0.0.1 %2$d
                    priv_limit admin
                    allowed_auths_callback md5
                    allowed_auths_user md5
                    allowed_auths_operator md5
                    allowed_auths_admin md5
                    guid a123456789abcdefa123456789abcdef
                  endlan
                  chassis_control "%3$s 0x20"
                  user 2 true "%4$s" "%5$s" admin 10 md5
                """.formatted(machine.name(), port, chassis, user, password.reveal()));
        Path emu = dir.resolve("sim.emu");
        Files.writeString(emu, """
                mc_setbmc 0x20
                mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
                sel_enable 0x20 1000 0x0a
                mc_enable 0x20
                """);
        Process p;
        try {
            p = launcher.start(new ProcessBuilder(
                            "ipmi_sim",
                            "-c",
                            lanConf.toString(),
                            "-f",
                            emu.toString(),
                            "-s",
                            dir.resolve("state").toString(),
                            "-n")
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("ipmi_sim.log").toFile()));
        } catch (IOException e) {
            throw new IOException(
                    "cannot start ipmi_sim: the lab's ipmi BMCs need it; install the Debian package openipmi", e);
        }
        IpmiSimBmc bmc = new IpmiSimBmc(p, "127.0.0.1:" + port, user, password);
        bmc.awaitAnswering(machine.name(), dir);
        return bmc;
    }

    private void awaitAnswering(String node, Path dir) throws IOException, InterruptedException {
        IpmiMachine probe = new IpmiMachine(endpoint(node, Duration.ofSeconds(1)));
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new IOException("ipmi_sim of lab machine "
                        + node
                        + " exited (status "
                        + process.exitValue()
                        + "): "
                        + Files.readString(dir.resolve("ipmi_sim.log")).strip());
            }
            try {
                probe.powerState();
                return;
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    close();
                    throw new IOException("ipmi_sim of lab machine " + node + " does not answer: " + e.getMessage(), e);
                }
            }
            Thread.sleep(200);
        }
    }

    /** How the ipmi driver reaches this BMC. */
    public BmcEndpoint endpoint(String node, Duration timeout) {
        return new BmcEndpoint(node, address, user, password, null, null, false, false, timeout, CIPHER_SUITE);
    }

    /** 127.0.0.1:PORT */
    public String address() {
        return address;
    }

    public String user() {
        return user;
    }

    public Secret password() {
        return password;
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void writePrivate(Path file, String text) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text);
    }
}
