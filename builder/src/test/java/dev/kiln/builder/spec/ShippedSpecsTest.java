package dev.kiln.builder.spec;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.builder.TestSupport;
import dev.kiln.core.json.Json;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The specs users copy from must pass the static checks, and the schema must describe the model.
 */
class ShippedSpecsTest {
    @Test
    void debianNodeSpecChecksAndRenders() throws Exception {
        List<RenderedFile> files = SpecChecker.check(SpecLoader.load(TestSupport.repo("image-specs/debian-node.yaml")));
        RenderedFile etcd = files.stream()
                .filter(f -> f.path().equals("/etc/default/etcd"))
                .findFirst()
                .orElseThrow();
        assertThat(etcd.placeholders()).contains("node_name", "node_address", "etcd_initial_cluster");
        assertThat(etcd.content()).contains("etcd 3.4.23").doesNotContain("[=");
    }

    @Test
    void k8sNodeSpecChecksAndRendersKubeadmConfigs() throws Exception {
        SpecLoader.Loaded loaded = SpecLoader.load(TestSupport.repo("image-specs/k8s-node.yaml"));
        List<RenderedFile> files = SpecChecker.check(loaded);
        assertThat(files)
                .extracting(RenderedFile::path)
                .contains("/etc/kiln/kubeadm/init.yaml", "/etc/kiln/kubeadm/join.yaml");
        RenderedFile init = files.stream()
                .filter(f -> f.path().equals("/etc/kiln/kubeadm/init.yaml"))
                .findFirst()
                .orElseThrow();
        assertThat(init.content()).contains("kubernetesVersion: v1.34.2").contains("@@");
        assertThat(loaded.spec().components())
                .containsKeys("kubelet", "kubeadm", "kubectl", "containerd", "runc", "cni-plugins");
    }

    @Test
    void schemaKnowsEveryTopLevelFieldOfTheModel() throws Exception {
        JsonNode schema = Json.MAPPER.readTree(
                TestSupport.repo("image-specs/kiln-spec.schema.json").toFile());
        Set<String> inSchema = new HashSet<>();
        schema.get("properties").fieldNames().forEachRemaining(inSchema::add);
        Set<String> inModel = new HashSet<>();
        for (var c : ImageSpec.class.getRecordComponents()) {
            inModel.add(c.getName());
        }
        assertThat(inSchema).isEqualTo(inModel);
        assertThat(schema.get("required"))
                .extracting(JsonNode::asText)
                .containsExactlyInAnyOrder("name", "version", "base", "kernel");
    }

    static Path spec(String name) {
        return TestSupport.repo("image-specs/" + name);
    }
}
