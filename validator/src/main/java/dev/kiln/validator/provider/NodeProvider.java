package dev.kiln.validator.provider;

import dev.kiln.machines.Machine;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a throwaway cluster's nodes run: QEMU machines on a private PXE network, QEMU machines
 * booting the disk image, or systemd containers. A provider owns everything it creates for one run
 * (machines, containers, networks, helper processes, files under the run directory) and removes all
 * of it in {@link #close}, whatever state the run is in.
 *
 * <p>Order of calls: {@link #createNetwork}, then kiln serve starts on {@link Lan#serverAddress},
 * then {@link #start}, then {@link #close} (possibly from a Ctrl-C hook on another thread, at any
 * point, even while {@link #start} is running).
 */
public interface NodeProvider extends AutoCloseable {
    /** The provider's name as on the command line: qemu-pxe, qemu-disk, container. */
    String name();

    /** True when nodes run the host's kernel (containers): kernel checks are skipped then. */
    boolean sharesHostKernel();

    /** Creates the private network for {@code nodes} nodes and says who gets which address. */
    Lan createNetwork(int nodes) throws IOException, InterruptedException;

    /**
     * Boots every node, each with the address {@link #createNetwork} gave it at the same index.
     * Returns once they are started, not booted; nodes report their progress to kiln serve.
     *
     * @param serverUrl kiln serve as the nodes reach it, e.g. http://10.77.3.1:40123
     */
    void start(List<NodeBoot> nodes, String serverUrl) throws IOException, InterruptedException;

    /** The machines started so far, by node name: power and console of each node. */
    Map<String, ? extends Machine> machines();

    /** The end of a node's console (serial console or container log), for reports; never throws. */
    String consoleTail(String node, int lines);

    /** Removes everything this run created; idempotent and safe to call from another thread. */
    @Override
    void close();

    /**
     * @param serverAddress the host address kiln serve must listen on to be reachable by nodes
     * @param nodeAddresses one address per node, in node order
     */
    record Lan(String serverAddress, List<String> nodeAddresses) {
        public Lan {
            nodeAddresses = List.copyOf(nodeAddresses);
        }
    }

    /**
     * One node to boot.
     *
     * @param token the node's kiln serve token (kernel argument kiln.token=)
     * @param metadata the node's metadata document as kiln serve's GET /metadata gives it (without
     *     the token), for providers that hand it over themselves, as EC2 user data
     */
    record NodeBoot(String name, String role, String mac, String address, String token, Map<String, String> metadata) {
        public NodeBoot {
            metadata = metadata == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        }
    }
}
