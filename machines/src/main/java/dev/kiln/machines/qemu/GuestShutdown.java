package dev.kiln.machines.qemu;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A clean shutdown of a QEMU guest through its human monitor (HMP) on a unix socket: the
 * Ctrl-Alt-Del key combination, which systemd turns into an orderly reboot (every unit stopped,
 * filesystems unmounted). ACPI power-off would need systemd-logind, which kiln images cannot count
 * on; the PS/2 keyboard is always there on QEMU's pc machine.
 */
final class GuestShutdown {
    static final String SOCKET = "monitor.sock";

    /** sun_path is 108 bytes; the rest of the socket name must fit. */
    private static final int MAX_SOCKET_PATH = 100;

    private GuestShutdown() {}

    /**
     * The -monitor argument: a listening unix socket in {@code dir}, or none if its path is too
     * long.
     */
    static String monitorArg(Path dir) {
        Path socket = dir.toAbsolutePath().resolve(SOCKET);
        return socket.toString().length() <= MAX_SOCKET_PATH ? "unix:" + socket + ",server=on,wait=off" : "none";
    }

    static void ctrlAltDelete(Path dir) throws IOException {
        Path socket = dir.toAbsolutePath().resolve(SOCKET);
        if ("none".equals(monitorArg(dir))) {
            throw new IOException(
                    "the machine has no monitor: its directory's path is too long for a unix socket (" + socket + ")");
        }
        if (!java.nio.file.Files.exists(socket)) {
            throw new IOException("QEMU's monitor socket " + socket + " is missing; is the machine running?");
        }
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            readPrompt(ch);
            ch.write(ByteBuffer.wrap("sendkey ctrl-alt-delete\n".getBytes(StandardCharsets.US_ASCII)));
            // The next prompt means QEMU has taken the command.
            readPrompt(ch);
        }
    }

    /** Reads until the monitor's "(qemu) " prompt. */
    private static void readPrompt(SocketChannel ch) throws IOException {
        StringBuilder seen = new StringBuilder();
        ByteBuffer buf = ByteBuffer.allocate(4096);
        while (seen.indexOf("(qemu)") < 0) {
            buf.clear();
            if (ch.read(buf) < 0) {
                throw new IOException("QEMU's monitor closed the connection; it said: "
                        + seen.toString().strip());
            }
            seen.append(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8));
        }
    }
}
