package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.builder.BrokenImages;
import dev.kiln.builder.TestImages;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.store.ValidationRecord;
import dev.kiln.validator.ValidationReport.Check;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

/**
 * kiln validate --provider container: systemd containers from rootfs.tar on the local dockerd,
 * metadata from an in-process kiln serve on the run's own Docker network.
 */
@Tag("vm")
class ValidateContainerTest {
    @TempDir
    Path work;

    @Test
    void goodImageFormsAnEtcdClusterAndPassesEveryCheck() throws Exception {
        Manifest image = TestImages.debianNode();

        ValidationRun run = ValidationRun.of(image, "container", 1, 2, Duration.ofSeconds(180), work);

        run.assertValidated("skip");
        ValidationReport r = run.report();
        assertThat(r.nodes())
                .extracting(ValidationReport.Node::name, ValidationReport.Node::role)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("m1", "init-master"),
                        org.assertj.core.groups.Tuple.tuple("w1", "join-worker"),
                        org.assertj.core.groups.Tuple.tuple("w2", "join-worker"));
        for (ValidationReport.Node n : r.nodes()) {
            assertThat(n.reached()).containsKeys("booted", "metadata-fetched", "bootstrap-started", "ready", "checked");
        }
        assertThat(r.cluster().get(0).detail()).contains("m1");
        assertThat(r.notes()).anySatisfy(n -> assertThat(n).contains("kernel checks skipped"));
        assertThat(run.printed())
                .contains("VALIDATED debian-node:1.0.0-20261127.1 on container (1 master + 2 workers)");

        // Reports for people and CI, and the verdict in the store beside the manifest.
        JsonNode json =
                Json.MAPPER.readTree(run.reportDir().resolve("report.json").toFile());
        assertThat(json.path("result").asText()).isEqualTo("validated");
        Document junit = DocumentBuilderFactory.newInstance()
                .newDocumentBuilder()
                .parse(run.reportDir().resolve("junit.xml").toFile());
        assertThat(junit.getDocumentElement().getAttribute("failures")).isEqualTo("0");
        assertThat(junit.getElementsByTagName("testcase").getLength()).isEqualTo(3 * 5 + 2);
        ValidationRecord record = ValidationRecord.read(TestImages.dirOf(image));
        ValidationRecord.Run last = record.runs().get(record.runs().size() - 1);
        assertThat(last.runId()).isEqualTo(r.runId());
        assertThat(last.result()).isEqualTo("validated");
        assertThat(last.provider()).isEqualTo("container");
        assertThat(last.reportSha256())
                .isEqualTo(dev.kiln.core.util.Hashing.sha256(
                        Files.readAllBytes(run.reportDir().resolve("report.json"))));
    }

    @Test
    void furtherMastersJoinTheEtcdClusterTheFirstCreated() throws Exception {
        ValidationRun run = ValidationRun.of(TestImages.debianNode(), "container", 3, 1, Duration.ofSeconds(180), work);

        run.assertValidated("skip");
        assertThat(run.report().nodes())
                .extracting(ValidationReport.Node::role)
                .containsExactly("init-master", "join-master", "join-master", "join-worker");
        assertThat(run.report().cluster().get(0).detail())
                .contains("m1")
                .contains("m2")
                .contains("m3");
        assertThat(run.report().cluster().get(1).detail()).startsWith("3 endpoint(s) healthy");
    }

    @Test
    void missingPlaceholderMetadataFailsNamingNodeStepAndKey() throws Exception {
        Manifest image = BrokenImages.missingMetadata();

        ValidationRun run = ValidationRun.of(image, "container", 1, 2, Duration.ofSeconds(180), work);

        ValidationReport r = run.report();
        assertThat(r.passed()).isFalse();
        for (String name : new String[] {"m1", "w1", "w2"}) {
            ValidationReport.Failure f = run.node(name).failure();
            assertThat(f).as(name).isNotNull();
            assertThat(f.step()).isEqualTo("placeholders");
            assertThat(f.error())
                    .contains("dnsServer")
                    .contains("@@dns_server@@")
                    .contains("/etc/kiln-resolv.conf");
        }
        assertThat(r.error()).matches("(m1|w1|w2): placeholders failed: .*dnsServer.*");
        assertThat(r.seconds())
                .as("fails as soon as the agents say so, not at the deadline")
                .isLessThan(120);
        assertThat(run.printed()).contains("FAILED debian-node-nodns:");
        assertThat(ValidationRecord.read(TestImages.dirOf(image)).lastValidated(null))
                .isNull();
        assertThat(Leftovers.of(r.runId(), run.tmpRoot())).isEmpty();
    }

    @Test
    void failingUnitFailsTheUnitsCheckOnEveryNode() throws Exception {
        Manifest image = BrokenImages.failingUnit();

        ValidationRun run = ValidationRun.of(image, "container", 1, 2, Duration.ofSeconds(180), work);

        ValidationReport r = run.report();
        assertThat(r.passed()).isFalse();
        for (ValidationReport.Node n : r.nodes()) {
            assertThat(n.failure()).as(n.name() + " bootstrapped").isNull();
            Check units = n.checks().stream()
                    .filter(c -> c.check().equals("units-active"))
                    .findFirst()
                    .orElseThrow();
            assertThat(units.status()).isEqualTo("fail");
            assertThat(units.detail()).contains("kiln-broken.service is failed").contains("giving up on purpose");
        }
        assertThat(r.error()).startsWith("m1: check units-active failed: ");
        assertThat(Leftovers.of(r.runId(), run.tmpRoot())).isEmpty();
    }
}
