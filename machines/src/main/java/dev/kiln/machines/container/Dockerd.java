package dev.kiln.machines.container;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.Network;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.transport.DockerHttpClient;
import com.github.dockerjava.zerodep.ZerodepDockerHttpClient;
import dev.kiln.core.util.ConsoleText;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The local dockerd, as kiln uses it for node containers: bridge networks, node images, the
 * containers themselves ({@link NodeContainer}), their logs, and removing everything that carries a
 * label. The one place that speaks docker-java.
 */
public final class Dockerd implements AutoCloseable {
    public static final String HOST = "unix:///var/run/docker.sock";

    private final DockerHttpClient http;
    private final DockerClient docker;
    private final String unreachableHint;

    private Dockerd(String unreachableHint) {
        this.http = new ZerodepDockerHttpClient.Builder()
                .dockerHost(URI.create(HOST))
                .connectionTimeout(Duration.ofSeconds(5))
                // Between two bytes of an answer; an import answers only once all of
                // rootfs.tar is in.
                .responseTimeout(Duration.ofMinutes(5))
                .build();
        this.docker = DockerClientImpl.getInstance(
                DefaultDockerClientConfig.createDefaultConfigBuilder()
                        .withDockerHost(HOST)
                        .build(),
                http);
        this.unreachableHint = unreachableHint;
    }

    /**
     * A client of the local dockerd; nothing is asked yet.
     *
     * @param unreachableHint appended to "cannot reach dockerd" errors: what the user can do
     *     instead
     */
    public static Dockerd connect(String unreachableHint) {
        return new Dockerd(unreachableHint);
    }

    /** docker-java itself, for tests and for what this class does not cover. */
    public DockerClient api() {
        return docker;
    }

    DockerHttpClient http() {
        return http;
    }

    /** An IOException saying dockerd cannot be reached, with the hint. */
    IOException unreachable(RuntimeException e) {
        return new IOException("cannot reach dockerd at " + HOST + ": " + e.getMessage() + " " + unreachableHint, e);
    }

    /**
     * The daemon's cgroup version ("1", "2"), or null when it does not say; fails when unreachable.
     */
    public String cgroupVersion() throws IOException {
        try {
            return docker.infoCmd().exec().getCGroupVersion();
        } catch (RuntimeException e) {
            throw unreachable(e);
        }
    }

    /**
     * Creates a bridge network PREFIX0/24 with gateway PREFIX1, without masquerading (members reach
     * each other and the host, nothing beyond); its host interface is named like it. Returns false
     * when the subnet overlaps one in use (try another).
     *
     * @param prefix three octets and a dot, e.g. "10.177.3."
     */
    public boolean createBridgeNetwork(String name, Map<String, String> labels, String prefix) throws IOException {
        try {
            docker.createNetworkCmd()
                    .withName(name)
                    .withDriver("bridge")
                    .withLabels(labels)
                    .withOptions(Map.of(
                            "com.docker.network.bridge.name",
                            name,
                            "com.docker.network.bridge.enable_ip_masquerade",
                            "false"))
                    .withIpam(new Network.Ipam()
                            .withConfig(new Network.Ipam.Config()
                                    .withSubnet(prefix + "0/24")
                                    .withGateway(prefix + "1")))
                    .withCheckDuplicate(true)
                    .exec();
            return true;
        } catch (RuntimeException e) {
            if (String.valueOf(e.getMessage()).contains("overlaps")) {
                return false;
            }
            throw new IOException(
                    "cannot create Docker network " + name + " (" + prefix + "0/24): " + e.getMessage(), e);
        }
    }

    /** The values of label {@code key} on every container and network that has it. */
    public Set<String> labelValues(String key) {
        Set<String> values = new TreeSet<>();
        for (Container c : docker.listContainersCmd()
                .withShowAll(true)
                .withLabelFilter(List.of(key))
                .exec()) {
            values.add(c.getLabels().get(key));
        }
        for (Network n :
                docker.listNetworksCmd().withFilter("label", List.of(key)).exec()) {
            values.add(n.getLabels().get(key));
        }
        return values;
    }

    /** Force-removes the containers, then the networks, labelled KEY=VALUE; logs what fails. */
    public int removeLabelled(String key, String value, Consumer<String> log) {
        // One label filter per call: Docker ANDs several.
        String label = key + "=" + value;
        int removed = 0;
        for (Container c : docker.listContainersCmd()
                .withShowAll(true)
                .withLabelFilter(List.of(label))
                .exec()) {
            String name = c.getNames().length > 0 ? c.getNames()[0].replaceFirst("^/", "") : c.getId();
            try {
                docker.removeContainerCmd(c.getId())
                        .withForce(true)
                        .withRemoveVolumes(true)
                        .exec();
                removed++;
                log.accept("removed container " + name);
            } catch (NotFoundException gone) {
                // removed meanwhile (by a concurrent close or cleanup)
            } catch (RuntimeException e) {
                log.accept("could not remove container " + name + ": " + e.getMessage());
            }
        }
        for (Network n :
                docker.listNetworksCmd().withFilter("label", List.of(label)).exec()) {
            try {
                docker.removeNetworkCmd(n.getId()).exec();
                removed++;
                log.accept("removed network " + n.getName());
            } catch (NotFoundException gone) {
                // removed meanwhile
            } catch (RuntimeException e) {
                log.accept("could not remove network " + n.getName() + ": " + e.getMessage());
            }
        }
        return removed;
    }

    /** The end of a container's log as plain text; says why when there is none. Never throws. */
    public String logTail(String container, int lines) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            docker.logContainerCmd(container)
                    .withStdOut(true)
                    .withStdErr(true)
                    .withTail(lines)
                    .exec(new ResultCallback.Adapter<Frame>() {
                        @Override
                        public void onNext(Frame f) {
                            out.writeBytes(f.getPayload());
                        }
                    })
                    .awaitCompletion(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted while reading the log of " + container + ")";
        } catch (RuntimeException e) {
            return "(no log of " + container + ": " + e.getMessage() + ")";
        }
        // A terminal's output: CR LF line ends and systemd's colours.
        return ConsoleText.plain(out.toString(StandardCharsets.UTF_8));
    }

    @Override
    public void close() throws IOException {
        docker.close();
    }
}
