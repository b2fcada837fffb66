package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kiln.builder.TestSupport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The user pipelines in ci/pipelines/: the CI files parse and call the one script; every script
 * passes shellcheck.
 */
class PipelineFilesTest {
    static final Path DIR = TestSupport.repo("ci/pipelines");
    static final String SCRIPT = "ci/pipelines/kiln-pipeline.sh";

    @Test
    void githubWorkflowParsesAndWrapsTheScript() throws Exception {
        JsonNode w = new YAMLMapper().readTree(DIR.resolve("github-actions.yml").toFile());

        assertThat(w.path("on").has("schedule")).isTrue();
        assertThat(w.path("on").path("push").path("paths").toString()).contains("image-specs/**");
        JsonNode jobs = w.path("jobs");
        assertThat(runs(jobs.path("nightly"))).containsExactly(SCRIPT + " nightly image-specs/*.yaml");
        assertThat(runs(jobs.path("release"))).containsExactly(SCRIPT + " release --changed-since \"$BEFORE\"");
        // secrets come from the platform's store, reports and the layer cache are kept
        assertThat(jobs.path("release").toString())
                .contains("${{ secrets.AWS_SECRET_ACCESS_KEY }}")
                .contains("actions/upload-artifact")
                .contains("junit.xml")
                .contains("actions/cache")
                .contains(".kiln/cache");
    }

    @Test
    void gitlabCiParsesAndWrapsTheScript() throws Exception {
        JsonNode g = new YAMLMapper().readTree(DIR.resolve("gitlab-ci.yml").toFile());

        assertThat(g.path("kiln-nightly").path("script").toString()).contains(SCRIPT + " nightly image-specs/*.yaml");
        assertThat(g.path("kiln-release").path("script").get(0).asText())
                .isEqualTo(SCRIPT + " release --changed-since \"$CI_COMMIT_BEFORE_SHA\"");
        assertThat(g.path("kiln-release")
                        .path("artifacts")
                        .path("reports")
                        .path("junit")
                        .asText())
                .endsWith("junit.xml");
        assertThat(g.path("kiln-release").path("cache").path("paths").toString())
                .contains(".kiln/cache");
    }

    @Test
    void jenkinsfileWrapsTheScriptWithStoredCredentials() throws Exception {
        String j = Files.readString(DIR.resolve("Jenkinsfile"));

        assertThat(j)
                .contains("sh 'ci/pipelines/kiln-pipeline.sh release --changed-since")
                .contains("ci/pipelines/kiln-pipeline.sh nightly image-specs/*.yaml")
                .contains("withCredentials")
                .contains("junit ")
                .contains("kiln-reports/**/junit.xml");
        assertThat(j)
                .as("secrets never interpolated by Groovy")
                .doesNotContain("\"${GIT_TOKEN}")
                .doesNotContain("\"$AWS_SECRET");
    }

    @Test
    void everyScriptPassesShellcheck() throws Exception {
        Assumptions.assumeTrue(
                Files.isExecutable(Path.of("/usr/bin/shellcheck")),
                "shellcheck not installed (ci/install-deps.sh installs it)");
        List<Path> scripts;
        try (Stream<Path> files = Files.list(DIR)) {
            scripts = files.filter(p -> p.toString().endsWith(".sh")).sorted().toList();
        }
        assertThat(scripts).isNotEmpty();
        for (Path s : scripts) {
            assertThat(Files.isExecutable(s)).as(s + " is executable").isTrue();
            Process p = new ProcessBuilder("shellcheck", "--external-sources", s.toString())
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes());
            assertThat(p.waitFor()).as("shellcheck " + s + ":\n" + out).isZero();
        }
    }

    private static List<String> runs(JsonNode job) {
        return Stream.of(job.path("steps").elements())
                .flatMap(it -> {
                    List<String> r = new java.util.ArrayList<>();
                    it.forEachRemaining(step -> {
                        if (step.has("run")) {
                            r.add(step.get("run").asText().trim());
                        }
                    });
                    return r.stream();
                })
                .toList();
    }
}
