package dev.kiln.validator.provider;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.dockerjava.api.DockerClient;
import dev.kiln.machines.container.Dockerd;
import dev.kiln.validator.RunLabel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes as containers against a real dockerd, pointed at a stand-in for kiln serve: each node's
 * agent must ask for /metadata with its own token, which takes the cmdline file, the network and a
 * systemd boot up to kiln-agent.service. Needs an image whose agent reads /etc/kiln/cmdline:
 * -Dkiln.test.image=STORE/debian-node/VERSION (or $KILN_TEST_IMAGE).
 */
@Tag("docker")
class ContainerProviderTest {
    @TempDir
    Path tmp;

    @Test
    void cleanupStaleRemovesTheResourcesOfRunsThatAreOverOnly() throws Exception {
        try (Dockerd dockerd = ContainerProvider.client()) {
            DockerClient docker = dockerd.api();
            try {
                docker.pingCmd().exec();
            } catch (RuntimeException e) {
                Assumptions.abort("no dockerd at " + ContainerProvider.DOCKER_HOST + ": " + e.getMessage());
            }
            // Two runs that are over (Docker ANDs label filters: each must be removed on its own).
            List<RunLabel> runs = List.of(RunLabel.create(tmp), RunLabel.create(tmp));
            Set<String> dead = Set.of(runs.get(0).id(), runs.get(1).id());
            List<String> networks = dead.stream()
                    .map(id -> docker.createNetworkCmd()
                            .withName("kiln-" + id)
                            .withLabels(Map.of(RunLabel.DOCKER_LABEL, id))
                            .exec()
                            .getId())
                    .toList();
            try {
                // Every other run counts as live: other runs on this dockerd are left alone.
                int removed = ContainerProvider.cleanupStale(
                        id -> !dead.contains(id), l -> System.out.println("cleanup: " + l));
                assertThat(removed).isEqualTo(2);
                for (String id : dead) {
                    assertThat(docker.listNetworksCmd()
                                    .withFilter("label", List.of(RunLabel.DOCKER_LABEL + "=" + id))
                                    .exec())
                            .isEmpty();
                }
            } finally {
                runs.forEach(RunLabel::deleteDir);
                for (String n : networks) {
                    try {
                        docker.removeNetworkCmd(n).exec();
                    } catch (com.github.dockerjava.api.exception.NotFoundException removed) {
                        // as expected
                    }
                }
            }
        }
    }
}
