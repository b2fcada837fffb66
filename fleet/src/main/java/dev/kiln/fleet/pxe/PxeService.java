package dev.kiln.fleet.pxe;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Inet4Address;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kiln serve --pxe: runs dnsmasq with a generated {@link DhcpConfig} for as long as serve runs. Its
 * log lines go into serve's log; if it dies it is started again (after 1, 2, 4 ... 30 s); closing
 * stops it. It needs root (or CAP_NET_BIND_SERVICE and CAP_NET_RAW) for ports 67 and 69.
 */
public final class PxeService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PxeService.class);

    private final DhcpConfig config;
    private final java.util.function.Consumer<String> lines;
    private final Path conf;
    private final Path leases;
    private final Thread supervisor;
    private volatile boolean closed;
    private volatile Process process;
    private volatile int starts;

    private PxeService(DhcpConfig config, Path dir, java.util.function.Consumer<String> lines) {
        this.config = config;
        this.lines = lines;
        this.conf = dir.resolve("dnsmasq.conf");
        this.leases = dir.resolve("dnsmasq.leases");
        this.supervisor = new Thread(this::supervise, "kiln-pxe-dnsmasq");
        this.supervisor.setDaemon(true);
    }

    /**
     * Writes the configuration under {@code dir}, starts dnsmasq and waits until it serves (or
     * fails with dnsmasq's own words: a port taken by another DHCP server, a missing interface).
     */
    public static PxeService start(DhcpConfig config, Path dir) throws IOException, InterruptedException {
        return start(config, dir, line -> {});
    }

    /** As {@link #start(DhcpConfig, Path)}; {@code lines} also gets every line dnsmasq logs. */
    public static PxeService start(DhcpConfig config, Path dir, java.util.function.Consumer<String> lines)
            throws IOException, InterruptedException {
        FirmwareBinaries.require();
        Files.createDirectories(dir);
        PxeService s = new PxeService(config, dir, lines);
        Files.writeString(s.conf, config.dnsmasq(FirmwareBinaries.dir().toString(), s.leases.toString()));
        CountDownLatch ready = new CountDownLatch(1);
        StringBuilder early = new StringBuilder();
        Process p = s.launch(line -> {
            synchronized (early) {
                early.append(line).append('\n');
            }
            if (line.contains("TFTP root is") || line.contains("started, version")) {
                ready.countDown();
            }
        });
        if (!ready.await(10, TimeUnit.SECONDS) || !p.isAlive()) {
            p.destroyForcibly();
            p.waitFor();
            synchronized (early) {
                throw new IOException("dnsmasq for --pxe "
                        + config.mode().name().toLowerCase()
                        + " on "
                        + config.iface()
                        + " did not start (config "
                        + s.conf
                        + "): "
                        + early.toString().strip());
            }
        }
        s.process = p;
        s.starts = 1;
        s.supervisor.start();
        return s;
    }

    /** How many times dnsmasq was started (1 unless it died and was restarted). */
    public int starts() {
        return starts;
    }

    public long pid() {
        Process p = process;
        return p == null ? -1 : p.pid();
    }

    public Path configFile() {
        return conf;
    }

    private Process launch(java.util.function.Consumer<String> onLine) throws IOException {
        Process p = new ProcessBuilder(dnsmasq(), "--keep-in-foreground", "--log-facility=-", "--conf-file=" + conf)
                .redirectErrorStream(true)
                .start();
        Thread reader = new Thread(
                () -> {
                    try (BufferedReader r =
                            new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                        for (String line; (line = r.readLine()) != null; ) {
                            LOG.info("dnsmasq: {}", line);
                            lines.accept(line);
                            onLine.accept(line);
                        }
                    } catch (IOException e) {
                        // the process ended
                    }
                },
                "kiln-pxe-dnsmasq-log");
        reader.setDaemon(true);
        reader.start();
        return p;
    }

    private void supervise() {
        long backoff = 1;
        while (!closed) {
            Process p = process;
            try {
                int code = p.waitFor();
                if (closed) {
                    return;
                }
                LOG.warn("dnsmasq (--pxe) exited with status {}; starting it again in {} s", code, backoff);
                Thread.sleep(TimeUnit.SECONDS.toMillis(backoff));
                backoff = Math.min(30, backoff * 2);
                synchronized (this) {
                    if (closed) {
                        return;
                    }
                    process = launch(line -> {});
                    starts++;
                }
            } catch (InterruptedException e) {
                return;
            } catch (IOException e) {
                LOG.error("dnsmasq (--pxe) could not be started again: {}", e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        supervisor.interrupt();
        Process p = process;
        if (p != null) {
            p.destroy();
            try {
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor();
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    static String dnsmasq() throws IOException {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin")) {
            Path p = Path.of(dir, "dnsmasq");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new IOException("kiln serve --pxe needs dnsmasq; install the Debian package dnsmasq-base");
    }

    /** This host's IPv4 address, network and netmask on {@code iface}, for the configuration. */
    public record InterfaceV4(String address, String network, String netmask) {}

    public static InterfaceV4 addressOf(String iface) throws SocketException {
        NetworkInterface nif = NetworkInterface.getByName(iface);
        if (nif == null) {
            throw new IllegalArgumentException("--interface: this host has no interface '" + iface + "'");
        }
        for (InterfaceAddress ia : nif.getInterfaceAddresses()) {
            if (ia.getAddress() instanceof Inet4Address a) {
                int bits = ia.getNetworkPrefixLength();
                byte[] b = a.getAddress();
                long ip = ((b[0] & 0xFFL) << 24) | ((b[1] & 0xFFL) << 16) | ((b[2] & 0xFFL) << 8) | (b[3] & 0xFFL);
                long mask = bits == 0 ? 0 : (0xFFFFFFFFL << (32 - bits)) & 0xFFFFFFFFL;
                return new InterfaceV4(a.getHostAddress(), dotted(ip & mask), dotted(mask));
            }
        }
        throw new IllegalArgumentException(
                "--interface " + iface + " has no IPv4 address; kiln's PXE needs one on the boot network");
    }

    private static String dotted(long v) {
        return ((v >> 24) & 0xFF) + "." + ((v >> 16) & 0xFF) + "." + ((v >> 8) & 0xFF) + "." + (v & 0xFF);
    }
}
