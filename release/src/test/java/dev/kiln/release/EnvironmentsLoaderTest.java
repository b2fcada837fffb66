package dev.kiln.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.core.json.Json;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EnvironmentsLoaderTest {
    static Path repo(String rel) {
        String root = System.getProperty("kiln.repo.root", "..");
        return Path.of(root).resolve(rel).toAbsolutePath().normalize();
    }

    final Path file = Path.of("envs.yaml");

    @Test
    void theShippedExampleLoads() throws Exception {
        Environments envs = EnvironmentsLoader.load(repo("examples/environments.yaml"));
        assertThat(envs.environments())
                .extracting(Environments.Environment::name)
                .containsExactly("dev", "staging", "prod");
        Environments.Environment prod = envs.require("prod");
        assertThat(prod.from()).isEqualTo("staging");
        assertThat(prod.gateNames()).containsExactly("from", "soak", "approvals", "window", "revoked");
        assertThat(prod.gates().get(0)).isEqualTo(new Environments.Soak(Duration.ofHours(72)));
        assertThat(envs.require("dev").gates()).containsExactly(new Environments.Validated("qemu-pxe", 1, 2));
        assertThat(envs.require("staging").gates().get(1)).isEqualTo(new Environments.Validated("qemu-disk", 1, 0));
    }

    @Test
    void theSchemaKnowsEveryGate() throws Exception {
        JsonNode schema = Json.MAPPER.readTree(
                repo("image-specs/kiln-environments.schema.json").toFile());
        List<String> gates = new ArrayList<>();
        schema.at("/$defs/gate/oneOf")
                .forEach(g -> gates.add(g.get("required").get(0).asText()));
        gates.add("from");
        assertThat(gates).containsExactlyInAnyOrderElementsOf(Environments.GATES);
        List<String> env = new ArrayList<>();
        schema.at("/properties/environments/items/properties").fieldNames().forEachRemaining(env::add);
        assertThat(env).containsExactlyInAnyOrder("name", "from", "gates");
    }

    @Test
    void aMisspelledGateFailsAtItsLineAndColumnNamingTheGatesThereAre() {
        String text = """
                environments:
                  - name: dev
                  - name: prod
                    from: dev
                    gates:
                      - approvals: 1
                      - soakk: 24h
                """;
        assertThatThrownBy(() -> EnvironmentsLoader.parse(file, text))
                .isInstanceOf(EnvironmentsException.class)
                .hasMessage("envs.yaml:7:9: environments[1].gates[1].soakk: unknown field 'soakk'; expected one of"
                        + " [approvals, soak, validated, window]");
    }

    @Test
    void everyProblemAfterBindingIsReportedAtOnceWithFileLineAndColumn() {
        String text = """
                environments:
                  - name: dev
                    gates:
                      - validated: {provider: qemu, masters: 0}
                      - soak: 24h
                  - name: staging
                    from: qa
                    gates:
                      - window: "Mon-Fri 9:00-16:00 Europe/Amsterdam"
                  - name: prod
                    from: staging
                    gates:
                      - soak: 2 days
                      - approvals: 0
                      - window: "Mon-Thu 09:00-16:00 Mars/Olympus"
                  - name: prod
                """;
        assertThatThrownBy(() -> EnvironmentsLoader.parse(file, text))
                .isInstanceOf(EnvironmentsException.class)
                .satisfies(
                        e -> assertThat(((EnvironmentsException) e).problems())
                                .extracting(Object::toString)
                                .containsExactly(
                                        "envs.yaml:4:21: environments[0].gates[0].validated.provider: expected one of [qemu-pxe, qemu-disk,"
                                                + " container], got 'qemu'",
                                        "envs.yaml:5:9: environments[0].gates[1].soak: a soak time needs 'from': the environment the version soaks in",
                                        "envs.yaml:7:5: environments[1].from: 'qa' is not an environment defined above this one (environments"
                                                + " are listed in promotion order; defined so far: dev)",
                                        "envs.yaml:9:9: environments[1].gates[0].window: '9:00' is not a time HH:MM (00:00 to 23:59)",
                                        "envs.yaml:13:9: environments[2].gates[0].soak: expected a duration like 24h, 90m, 3d or 1h30m, got '2 days'",
                                        "envs.yaml:14:9: environments[2].gates[1].approvals: expected at least 1, got 0",
                                        "envs.yaml:15:9: environments[2].gates[2].window: 'Mars/Olympus' is not a time zone (an IANA name like"
                                                + " Europe/Amsterdam, or UTC)",
                                        "envs.yaml:16:5: environments[3].name: environment 'prod' is already defined at environments[2]"));
    }

    @Test
    void wrongTypesAndSyntaxSayWhatWasExpected() {
        assertThatThrownBy(() -> EnvironmentsLoader.parse(
                        file, "environments:\n  - name: dev\n    gates:\n      - approvals: many\n"))
                .hasMessageStartingWith("envs.yaml:4:9: environments[0].gates[0].approvals: expected a whole number");
        assertThatThrownBy(() -> EnvironmentsLoader.parse(file, "environments: {name: dev}\n"))
                .hasMessageStartingWith("envs.yaml:1:")
                .hasMessageContaining("environments: expected a list");
        assertThatThrownBy(() -> EnvironmentsLoader.parse(
                        file, "environments:\n  - name: dev\n    gates: [{soak: 1h, approvals: 1}]\n"))
                .hasMessageStartingWith("envs.yaml:3:13: environments[0].gates[0]: one gate per list item");
        assertThatThrownBy(() -> EnvironmentsLoader.parse(file, "environments:\n  - name: dev\n   from: x\n"))
                .hasMessageStartingWith("envs.yaml:3:4: ")
                .hasMessageContaining("while parsing");
        assertThatThrownBy(() -> EnvironmentsLoader.parse(file, "# nothing\n"))
                .hasMessageContaining("the environments file is empty");
        assertThatThrownBy(() -> EnvironmentsLoader.load(Path.of("/nonexistent/envs.yaml")))
                .hasMessageContaining("/nonexistent/envs.yaml: environments file not found");
    }

    @Test
    void windowsFollowTheirZoneAndMayRunPastMidnight() {
        Window w = Window.parse("Mon-Thu 09:00-16:00 Europe/Amsterdam");
        // 2026-11-24 is a Tuesday; Amsterdam is UTC+1 in November.
        assertThat(w.contains(java.time.Instant.parse("2026-11-24T08:30:00Z"))).isTrue();
        assertThat(w.contains(java.time.Instant.parse("2026-11-24T07:59:00Z"))).isFalse();
        assertThat(w.contains(java.time.Instant.parse("2026-11-27T10:00:00Z"))).isFalse(); // Friday
        assertThat(w.nextOpening(java.time.Instant.parse("2026-11-27T10:00:00Z"))
                        .toString())
                .isEqualTo("2026-11-30T09:00+01:00[Europe/Amsterdam]");
        Window night = Window.parse("Fri-Sat 22:00-02:00 UTC");
        assertThat(night.contains(java.time.Instant.parse("2026-11-28T01:00:00Z")))
                .isTrue(); // Saturday 01:00, Friday's window
        assertThat(night.contains(java.time.Instant.parse("2026-11-29T01:00:00Z")))
                .isTrue(); // Sunday 01:00, Saturday's
        assertThat(night.contains(java.time.Instant.parse("2026-11-30T01:00:00Z")))
                .isFalse();
        assertThat(Window.parse("Sat,Sun 00:00-24:00 UTC").contains(java.time.Instant.parse("2026-11-29T23:59:00Z")))
                .isTrue();
    }
}
