package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.apt.LocalMirror;
import dev.kiln.builder.apt.UpdateIndexTestAccess;
import dev.kiln.core.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln outdated / kiln bump as a user runs them: exit statuses, output, the spec file rewritten in
 * place.
 */
class OutdatedCommandTest {
    @TempDir
    Path tmp;

    @Test
    void outdatedExitsTenUntilBumpPinsTheNewestVersions() throws Exception {
        try (LocalMirror mirror = UpdateIndexTestAccess.debianLike()) {
            Path spec = tmp.resolve("node.yaml");
            String original = """
                    # the kernel is pinned on purpose
                    name: node
                    version: "20261127.1"
                    base: {distribution: debian, suite: bookworm, mirror: MIRROR}
                    kernel:
                      package: linux-image-6.1.0-50-cloud-amd64   # cloud flavour
                      version: 6.1.176-1
                    packages: [etcd-client=3.4.23-4+b4]
                    """.replace("MIRROR", mirror.url("debian"));
            Files.writeString(spec, original);
            String store = tmp.resolve("store").toString();

            Run outdated = run("outdated", "--store", store, spec.toString());
            assertThat(outdated.code()).as(outdated.out()).isEqualTo(10);
            assertThat(outdated.out())
                    .contains("linux-image-6.1.0-57-cloud-amd64 6.1.192-3")
                    .contains("bookworm-security")
                    .contains("via linux-image-cloud-amd64 6.1.192-3")
                    .contains("up to date: package etcd-client 3.4.23-4+b4");
            Run json = run("outdated", "--json", "--store", store, spec.toString());
            assertThat(json.code()).isEqualTo(10);
            assertThat(Json.MAPPER
                            .readTree(json.out())
                            .path("updates")
                            .get(0)
                            .path("newPkg")
                            .asText())
                    .isEqualTo("linux-image-6.1.0-57-cloud-amd64");

            assertThat(run("bump", "--store", store, spec.toString()).code())
                    .as("no selector is a usage error")
                    .isEqualTo(2);
            Run dry = run("bump", "--kernel", "--dry-run", "--store", store, spec.toString());
            assertThat(dry.out())
                    .contains("-  package: linux-image-6.1.0-50-cloud-amd64   # cloud flavour")
                    .contains("+  package: linux-image-6.1.0-57-cloud-amd64   # cloud flavour");
            assertThat(Files.readString(spec)).isEqualTo(original);

            Run bump = run("bump", "--kernel", "--store", store, spec.toString());
            assertThat(bump.code()).as(bump.out()).isZero();
            String bumped = Files.readString(spec);
            assertThat(bumped)
                    .startsWith("# the kernel is pinned on purpose\nname: node\nversion: \""
                            + java.time.LocalDate.now(java.time.ZoneOffset.UTC)
                                    .format(java.time.format.DateTimeFormatter.BASIC_ISO_DATE)
                            + ".1\"")
                    .contains("  package: linux-image-6.1.0-57-cloud-amd64   # cloud flavour\n  version: 6.1.192-3\n")
                    .contains("base: {distribution: debian, suite: bookworm, mirror: "
                            + mirror.url("debian")
                            + ", repositories: [{url: "
                            + mirror.url("debian-security")
                            + ", suite: bookworm-security}]}");
            assertThat(run("outdated", "--store", store, spec.toString()).code())
                    .as("nothing newer now")
                    .isZero();
            Run again = run("bump", "--kernel", "--store", store, spec.toString());
            assertThat(again.out()).contains("nothing to bump");
            assertThat(Files.readString(spec)).isEqualTo(bumped);
        }
    }

    record Run(int code, String out) {}

    private static Run run(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        try {
            return new Run(Main.run(args), buf.toString());
        } finally {
            System.setOut(saved);
        }
    }
}
