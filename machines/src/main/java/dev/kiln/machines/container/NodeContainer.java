package dev.kiln.machines.container;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.AccessMode;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Capability;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.Volume;
import dev.kiln.machines.Machine;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A node as a systemd container (systemd is PID 1, as on a machine) on a Docker network, with a
 * fixed address. Power on creates the container the first time and starts it; power off kills it
 * (the container and its disk stay); a cycle is both. There is no firmware, so no network boot.
 * Closing removes the container.
 */
public final class NodeContainer implements Machine {
    /**
     * @param node the node's name (also its hostname)
     * @param containerName Docker's name for it
     * @param readOnlyBinds host path → path in the container, mounted read-only
     */
    public record Spec(
            String node,
            String containerName,
            String image,
            String network,
            String address,
            String mac,
            Map<String, String> labels,
            Map<Path, String> readOnlyBinds) {
        public Spec {
            labels = Map.copyOf(labels);
            readOnlyBinds = new LinkedHashMap<>(readOnlyBinds);
        }
    }

    private final Dockerd dockerd;
    private final Spec spec;
    private boolean created;

    public NodeContainer(Dockerd dockerd, Spec spec) {
        this.dockerd = dockerd;
        this.spec = spec;
    }

    @Override
    public String name() {
        return spec.node();
    }

    public String containerName() {
        return spec.containerName();
    }

    @Override
    public synchronized void powerOn() throws IOException {
        DockerClient docker = dockerd.api();
        try {
            if (!created) {
                create(docker);
                created = true;
            }
            docker.startContainerCmd(spec.containerName()).exec();
        } catch (RuntimeException e) {
            throw new IOException(
                    "cannot start container "
                            + spec.containerName()
                            + " ("
                            + spec.address()
                            + ", image "
                            + spec.image()
                            + "): "
                            + e.getMessage(),
                    e);
        }
    }

    private void create(DockerClient docker) {
        HostConfig host = new UnconfinedPaths()
                .withNetworkMode(spec.network())
                // --privileged fails where CAP_SYS_RESOURCE is outside the bounding set.
                .withCapAdd(Capability.ALL)
                .withCapDrop(Capability.SYS_RESOURCE)
                .withSecurityOpts(List.of("seccomp=unconfined", "apparmor=unconfined"))
                // cgroup v1: a private cgroup namespace and an empty /sys/fs/cgroup, where
                // systemd
                // mounts its hierarchies itself, rooted at the container's cgroup. Binding
                // the
                // host's /sys/fs/cgroup instead lets systemd remount the host's cgroup
                // tmpfs
                // read-only and add directories to it.
                .withCgroupnsMode("private")
                .withTmpFs(Map.of(
                        "/sys/fs/cgroup", "rw,nosuid,nodev,noexec,mode=755",
                        "/run", "rw,nosuid,nodev,exec,mode=755",
                        "/run/lock", "rw,nosuid,nodev,noexec,mode=1777",
                        "/tmp", "rw,nosuid,nodev,exec,mode=1777"))
                .withBinds(spec.readOnlyBinds().entrySet().stream()
                        .map(b -> new Bind(b.getKey().toString(), new Volume(b.getValue()), AccessMode.ro))
                        .toList());
        CreateContainerCmd create = docker.createContainerCmd(spec.image())
                .withName(spec.containerName())
                .withHostName(spec.node())
                .withLabels(spec.labels())
                .withIpv4Address(spec.address())
                .withEnv("container=docker")
                .withCmd("/sbin/init")
                // systemd writes the console (and units with StandardOutput=console) to
                // /dev/console, which Docker creates only with a terminal: no tty, no log.
                .withTty(true)
                .withStopSignal("SIGRTMIN+3")
                .withHostConfig(host);
        if (spec.mac() != null) {
            create.withMacAddress(spec.mac());
        }
        create.exec();
    }

    /**
     * What the docker CLI sends for --security-opt systempaths=unconfined (dockerd refuses that
     * option itself; docker-java has no field for these): /proc/sys writable, as a node's sysctls
     * need, and nothing in /proc or /sys masked.
     */
    private static final class UnconfinedPaths extends HostConfig {
        @JsonProperty("MaskedPaths")
        public List<String> getMaskedPaths() {
            return List.of();
        }

        @JsonProperty("ReadonlyPaths")
        public List<String> getReadonlyPaths() {
            return List.of();
        }
    }

    @Override
    public synchronized void powerOff() throws IOException {
        if (powerState() == PowerState.ON) {
            try {
                dockerd.api().killContainerCmd(spec.containerName()).exec();
            } catch (RuntimeException e) {
                throw new IOException("cannot kill container " + spec.containerName() + ": " + e.getMessage(), e);
            }
        }
    }

    @Override
    public PowerState powerState() throws IOException {
        try {
            Boolean running = dockerd.api()
                    .inspectContainerCmd(spec.containerName())
                    .exec()
                    .getState()
                    .getRunning();
            return Boolean.TRUE.equals(running) ? PowerState.ON : PowerState.OFF;
        } catch (NotFoundException e) {
            return PowerState.OFF;
        } catch (RuntimeException e) {
            throw dockerd.unreachable(e);
        }
    }

    @Override
    public void bootOnceFromNetwork() {
        throw new UnsupportedOperationException("node "
                + spec.node()
                + " is a container ("
                + spec.containerName()
                + "): it has no firmware to boot from the network");
    }

    @Override
    public String consoleTail(int lines) {
        return dockerd.logTail(spec.containerName(), lines);
    }

    /** Removes the container. */
    @Override
    public void close() {
        try {
            dockerd.api()
                    .removeContainerCmd(spec.containerName())
                    .withForce(true)
                    .withRemoveVolumes(true)
                    .exec();
        } catch (RuntimeException e) {
            // already gone, or dockerd away: nothing more to do here
        }
    }
}
