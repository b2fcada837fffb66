package dev.kiln.validator;

import dev.kiln.core.util.Files2;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The label every resource of one validation run carries, so a crashed run's leftovers can be found
 * and removed ({@code kiln validate --cleanup}) without touching a run still in progress.
 *
 * <ul>
 *   <li>id: "kv" + 6 hex digits, short enough for Linux interface names (15 characters);
 *   <li>owner: {@link #OWNERS}/ID holds the pid and start time of the JVM running it: a run is live
 *       while that process is. One fixed place for every run on the host, wherever its run
 *       directory is, so --cleanup never takes a live run for a dead one;
 *   <li>run directory: TMP/kiln-validate-ID (scratch files);
 *   <li>containers and networks: Docker label {@link #DOCKER_LABEL}=ID;
 *   <li>network namespaces: kiln-ID; processes (QEMU, dnsmasq): "kiln-validate-ID" in their command
 *       line; iptables rules (qemu-disk's IMDS DNAT): comment "kiln-validate-ID".
 * </ul>
 */
public final class RunLabel {
    public static final String DIR_PREFIX = "kiln-validate-";
    public static final String DOCKER_LABEL = "dev.kiln.validate.run";

    /**
     * Where every run's owner is recorded; /tmp, like the run directories it outlives on a crash.
     */
    public static final Path OWNERS = Path.of("/tmp", "kiln-validate-runs");

    private final String id;
    private final Path dir;

    private RunLabel(String id, Path dir) {
        this.id = id;
        this.dir = dir;
    }

    /** A new run: a fresh id and its run directory under {@code tmpRoot}, owned by this JVM. */
    public static RunLabel create(Path tmpRoot) throws IOException {
        byte[] b = new byte[3];
        new SecureRandom().nextBytes(b);
        String id = "kv" + HexFormat.of().formatHex(b);
        Path dir = tmpRoot.resolve(DIR_PREFIX + id);
        ProcessHandle self = ProcessHandle.current();
        Files.createDirectories(OWNERS);
        Files.writeString(OWNERS.resolve(id), self.pid() + " " + startOf(self).orElse("?") + "\n");
        Files.createDirectories(dir);
        return new RunLabel(id, dir);
    }

    public static Path defaultTmpRoot() {
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    public String id() {
        return id;
    }

    /** Scratch files of this run (consoles, generated inventory, sockets); removed at the end. */
    public Path dir() {
        return dir;
    }

    /** The marker processes of this run carry in their command line. */
    public String processMarker() {
        return DIR_PREFIX + id;
    }

    /** Removes the run directory, then the owner record: the run is over. */
    public void deleteDir() {
        try {
            Files2.deleteRecursively(dir);
            Files.deleteIfExists(OWNERS.resolve(id));
        } catch (IOException e) {
            System.err.println("kiln validate: could not remove " + dir + ": " + e.getMessage());
        }
    }

    /** True if the process that started run {@code id} is still running. */
    public static boolean isLive(String id) {
        Path owner = OWNERS.resolve(id);
        try {
            String[] f = Files.readString(owner, StandardCharsets.UTF_8).trim().split(" ");
            Optional<ProcessHandle> p = ProcessHandle.of(Long.parseLong(f[0]));
            // The pid alone could have been reused since; the start time makes it the same process.
            return p.isPresent()
                    && p.get().isAlive()
                    && startOf(p.get()).orElse("?").equals(f[1]);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static Optional<String> startOf(ProcessHandle p) {
        return p.info().startInstant().map(Object::toString);
    }
}
