package dev.kiln.machines.bmc;

import dev.kiln.machines.Machine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A machine behind an IPMI BMC, through {@code ipmitool -I lanplus} (IPMI 2.0, RMCP+). The password
 * reaches ipmitool in its environment ({@code -E}, IPMI_PASSWORD), never on its command line where
 * {@code ps} shows it.
 *
 * <p>A BMC that does not answer is asked again, with backoff, a bounded number of times; a refused
 * login (wrong user or password) is reported at once and never retried, since BMCs lock accounts
 * after a few failures.
 */
public final class IpmiMachine implements Machine {
    private static final int ATTEMPTS = 3;

    private final BmcEndpoint bmc;
    private final String host;
    private final String port;

    public IpmiMachine(BmcEndpoint bmc) {
        this.bmc = bmc;
        // HOST, HOST:PORT, or [IPv6]:PORT; IPMI's port is 623.
        String a = bmc.address();
        if (a.startsWith("[") && a.contains("]")) {
            int end = a.indexOf(']');
            this.host = a.substring(1, end);
            this.port = a.startsWith(":", end + 1) ? a.substring(end + 2) : "623";
        } else if (a.indexOf(':') > 0 && a.indexOf(':') == a.lastIndexOf(':')) {
            this.host = a.substring(0, a.indexOf(':'));
            this.port = a.substring(a.indexOf(':') + 1);
        } else {
            this.host = a;
            this.port = "623";
        }
    }

    @Override
    public String name() {
        return bmc.node();
    }

    @Override
    public void powerOn() throws IOException, InterruptedException {
        ipmitool("power", "on");
    }

    @Override
    public void powerOff() throws IOException, InterruptedException {
        ipmitool("power", "off");
    }

    /**
     * "power cycle" does nothing to a machine that is off (IPMI says so): that one is powered on.
     */
    @Override
    public void powerCycle() throws IOException, InterruptedException {
        if (powerState() == PowerState.OFF) {
            powerOn();
        } else {
            ipmitool("power", "cycle");
        }
    }

    @Override
    public PowerState powerState() throws IOException, InterruptedException {
        String out = ipmitool("power", "status");
        if (out.contains("Chassis Power is on")) {
            return PowerState.ON;
        }
        if (out.contains("Chassis Power is off")) {
            return PowerState.OFF;
        }
        throw new BmcException(bmc, BmcException.Kind.REFUSED, "unexpected answer to 'power status': " + out.strip());
    }

    /**
     * {@code chassis bootdev pxe} (with options=efiboot for UEFI machines), then reads boot
     * parameter 5 back: a BMC that says yes and keeps nothing is an error here, not a surprise at
     * the next boot.
     */
    @Override
    public void bootOnceFromNetwork() throws IOException, InterruptedException {
        if (bmc.uefi()) {
            ipmitool("chassis", "bootdev", "pxe", "options=efiboot");
        } else {
            ipmitool("chassis", "bootdev", "pxe");
        }
        String readBack = ipmitool("chassis", "bootparam", "get", "5");
        if (!readBack.contains("Force PXE")) {
            throw new BmcException(
                    bmc,
                    BmcException.Kind.REFUSED,
                    "accepted 'chassis bootdev pxe' but boot parameter 5"
                            + " does not say Force PXE afterwards: "
                            + readBack.strip().replace('\n', ' '));
        }
    }

    /** Boot parameter 5's device selector as ipmitool prints it, e.g. "Force PXE". */
    public String bootDevice() throws IOException, InterruptedException {
        for (String line : ipmitool("chassis", "bootparam", "get", "5").split("\n")) {
            if (line.contains("Boot Device Selector :")) {
                return line.substring(line.indexOf(':') + 1).strip();
            }
        }
        return "unknown";
    }

    @Override
    public String consoleTail(int lines) {
        return "(no console: node "
                + bmc.node()
                + " is reached through its BMC "
                + bmc.address()
                + "; Serial over LAN is not read by kiln)";
    }

    @Override
    public void close() {
        // ipmitool holds no session between commands
    }

    /** Runs one ipmitool command; retries what did not answer, never what was refused. */
    String ipmitool(String... command) throws IOException, InterruptedException {
        long backoffMs = 500;
        BmcException last = null;
        for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
            try {
                return once(command);
            } catch (BmcException e) {
                if (e.kind() != BmcException.Kind.UNREACHABLE) {
                    throw e;
                }
                last = e;
            }
            if (attempt < ATTEMPTS) {
                Thread.sleep(backoffMs);
                backoffMs *= 2;
            }
        }
        throw last;
    }

    private String once(String... command) throws IOException, InterruptedException {
        long timeoutSec = Math.max(1, bmc.timeout().toSeconds());
        List<String> cmd = new ArrayList<>(List.of(
                "ipmitool",
                "-v",
                "-I",
                "lanplus",
                "-H",
                host,
                "-p",
                port,
                "-U",
                bmc.user(),
                "-E",
                "-N",
                String.valueOf(timeoutSec),
                "-R",
                "1"));
        if (bmc.cipherSuite() != null) {
            cmd.addAll(List.of("-C", bmc.cipherSuite().toString()));
        }
        cmd.addAll(List.of(command));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("IPMITOOL_PASSWORD");
        bmc.password().into(pb.environment(), "IPMI_PASSWORD");
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException(
                    "ipmitool not found: the ipmi driver needs it; install the Debian package ipmitool", e);
        }
        p.getOutputStream().close();
        // ipmitool's own timeout (-N) bounds each try; this only catches a hung ipmitool.
        if (!p.waitFor(timeoutSec * 4 + 10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new BmcException(
                    bmc,
                    BmcException.Kind.UNREACHABLE,
                    "ipmitool " + String.join(" ", command) + " did not finish within " + (timeoutSec * 4 + 10) + " s");
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String said = said(out);
        if (out.contains("RAKP 2 HMAC is invalid")
                || out.contains("unauthorized name")
                || out.contains("Invalid user name")
                || out.contains("insufficient resources for session")) {
            throw new BmcException(
                    bmc,
                    BmcException.Kind.AUTH,
                    "login as '"
                            + bmc.user()
                            + "' refused (wrong user name or"
                            + " password from "
                            + bmc.password().source()
                            + "; not retried, so the account is not locked out): "
                            + said);
        }
        if (p.exitValue() != 0) {
            boolean noAnswer = out.contains("Unable to establish")
                    || out.contains("Get Auth Capabilities error")
                    || out.contains("No response");
            throw new BmcException(
                    bmc,
                    noAnswer ? BmcException.Kind.UNREACHABLE : BmcException.Kind.REFUSED,
                    (noAnswer
                                    ? "no answer within " + timeoutSec + " s (UDP " + host + ":" + port + ")"
                                    : "'ipmitool " + String.join(" ", command) + "' failed")
                            + ": "
                            + said);
        }
        return out;
    }

    /** ipmitool's output without its -v chatter, on one line. */
    private static String said(String out) {
        return String.join(
                "; ",
                out.lines()
                        .map(String::strip)
                        .filter(l -> !l.isEmpty()
                                && !l.startsWith("Loading IANA")
                                && !l.contains("Get Channel Cipher Suites"))
                        .toList());
    }
}
