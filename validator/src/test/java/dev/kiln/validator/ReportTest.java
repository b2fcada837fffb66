package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.store.Manifest;
import dev.kiln.validator.ValidationReport.Check;
import dev.kiln.validator.ValidationReport.Failure;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/** What the checks plan asks nodes, how results come back, and how reports show them. */
class ReportTest {
    private static Manifest manifest() {
        return new Manifest(
                1,
                "node",
                "1.0",
                null,
                "ab".repeat(32),
                null,
                0,
                null,
                null,
                new Manifest.Kernel("linux-image-x", "6.1", "6.1.0-50-cloud-amd64", null),
                null,
                null,
                null,
                null,
                null,
                List.of("pxe", "rootfs-tar"),
                null,
                Map.of(
                        "node",
                        List.of(
                                Map.of("check", "kernel-version"),
                                Map.of("check", "image-identity"),
                                Map.of("check", "hygiene")),
                        "cluster",
                        List.of(Map.of("check", "etcd-members"))));
    }

    @Test
    void nodesGetExpectedValuesFromTheManifestAndContainersSkipTheKernel() {
        CheckPlan vm = new CheckPlan(manifest(), false, "qemu-pxe");
        assertThat(vm.metadataValue())
                .contains("\"expect\":\"6.1.0-50-cloud-amd64\"")
                .contains("\"specSha256\":\"" + "ab".repeat(32) + "\"");
        assertThat(vm.notes()).isEmpty();

        CheckPlan containers = new CheckPlan(manifest(), true, "container");
        assertThat(containers.metadataValue()).doesNotContain("kernel-version");
        assertThat(containers.nodeResults("w1", List.of()).get(0))
                .isEqualTo(new Check("kernel-version", "skip", "nodes are containers running the host's kernel", null));
        assertThat(containers.notes()).singleElement().asString().contains("kernel checks skipped");
    }

    @Test
    void aCheckANodeDidNotReportFails() {
        List<Check> r = new CheckPlan(manifest(), false, "qemu-pxe")
                .nodeResults(
                        "w1",
                        List.of(Map.of(
                                "check",
                                "kernel-version",
                                "scope",
                                "node",
                                "status",
                                "pass",
                                "detail",
                                "running 6.1")));
        assertThat(r)
                .extracting(Check::check, Check::status)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("kernel-version", "pass"),
                        org.assertj.core.groups.Tuple.tuple("image-identity", "fail"),
                        org.assertj.core.groups.Tuple.tuple("hygiene", "fail"));
        assertThat(r.get(1).detail()).isEqualTo("w1 sent no result for this check");
    }

    @Test
    void aMachineIdOrHostKeySharedByTwoNodesIsNamed() {
        Map<String, String> why = CheckPlan.sharedIdentities(Map.of(
                "m1",
                        List.of(Map.of(
                                "check", "hygiene", "facts", Map.of("machineId", "aaa", "sshHostKeys", List.of("k1")))),
                "w1",
                        List.of(Map.of(
                                "check", "hygiene", "facts", Map.of("machineId", "aaa", "sshHostKeys", List.of("k2")))),
                "w2",
                        List.of(Map.of(
                                "check",
                                "hygiene",
                                "facts",
                                Map.of("machineId", "bbb", "sshHostKeys", List.of("k2"))))));
        assertThat(why.get("m1"))
                .isEqualTo("machine-id aaa is shared by m1, w1 (baked into the image instead of made at first boot)");
        assertThat(why.get("w1")).contains("machine-id aaa").contains("SSH host key sha256 k2 is shared by w1, w2");
        assertThat(why.get("w2")).contains("k2").doesNotContain("aaa");
    }

    @Test
    void junitNamesTheNodeTheStepAndTheErrorAndStaysValidXml() throws Exception {
        ValidationReport r = new ValidationReport(
                1,
                "node:1.0",
                "x",
                "container",
                1,
                1,
                "kv000001",
                "t",
                12.5,
                ValidationReport.FAILED,
                "w1: placeholders failed: metadata has no \"dnsServer\"",
                List.of(),
                List.of(
                        new ValidationReport.Node(
                                "m1",
                                "init-master",
                                "10.0.0.10",
                                "52:54:00:00:00:01",
                                "6.1",
                                Map.of("booted", 3.0, "ready", 9.0, "checked", 10.0),
                                null,
                                List.of(new Check("hygiene", "pass", "ok", "m1")),
                                null),
                        new ValidationReport.Node(
                                "w1",
                                "join-worker",
                                "10.0.0.11",
                                "52:54:00:00:00:02",
                                null,
                                Map.of("booted", 3.1),
                                new Failure("placeholders", "metadata has no \"dnsServer\" <&>"),
                                List.of(),
                                List.of("kiln-agent: failed \u001b[0m\u0007 boom"))),
                List.of(new Check("etcd-members", "skip", "n/a", "m1")));

        String xml = ReportWriter.junit(r);
        Document doc = DocumentBuilderFactory.newInstance()
                .newDocumentBuilder()
                .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)));

        Element root = doc.getDocumentElement();
        assertThat(root.getAttribute("tests")).isEqualTo("4");
        assertThat(root.getAttribute("failures")).isEqualTo("1");
        Element failure = (Element) doc.getElementsByTagName("failure").item(0);
        assertThat(((Element) failure.getParentNode()).getAttribute("classname"))
                .isEqualTo("w1");
        assertThat(((Element) failure.getParentNode()).getAttribute("name")).isEqualTo("bootstrap");
        assertThat(failure.getAttribute("message")).isEqualTo("placeholders: metadata has no \"dnsServer\" <&>");
        assertThat(doc.getElementsByTagName("skipped").getLength()).isEqualTo(1);

        List<String> summary = ReportWriter.summary(r);
        assertThat(summary.get(2)).startsWith("w1").contains("FAILED in placeholders");
        assertThat(summary).contains("      placeholders: metadata has no \"dnsServer\" <&>");
        assertThat(summary.get(summary.size() - 1))
                .isEqualTo(
                        "FAILED node:1.0 on container (1 master + 1 worker) in 13 s: w1: placeholders failed: metadata has no \"dnsServer\"");
    }
}
