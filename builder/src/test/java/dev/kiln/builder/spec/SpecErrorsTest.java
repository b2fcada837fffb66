package dev.kiln.builder.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.yaml.YamlProblem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every static mistake fails before any download, naming file:line, the field and what was
 * expected.
 */
class SpecErrorsTest {
    private static final String VALID = """
            name: test-node
            version: 1.0.0
            templates: tpl
            base:
              distribution: debian
              suite: bookworm
            kernel:
              package: linux-image-6.1.0-50-cloud-amd64
              version: 6.1.176-1
            files:
              - path: /etc/motd
                template: motd.ftl
              - path: /etc/node.conf
                content: |
                  name=@@node_name@@
            placeholders:
              node_name: name
            """;

    @TempDir
    Path dir;

    @BeforeEach
    void templates() throws IOException {
        Files.createDirectories(dir.resolve("tpl"));
        Files.writeString(dir.resolve("tpl/motd.ftl"), "Welcome to [=image.name] [=image.version]\n");
        Files.writeString(dir.resolve("tpl/broken.ftl"), "value: [=vars.missing]\n");
        Files.writeString(dir.resolve("tpl/unclosed.ftl"), "[#if true]no end\n");
    }

    private List<RenderedFile> check(String yaml) throws Exception {
        Path spec = dir.resolve("spec.yaml");
        Files.writeString(spec, yaml);
        return SpecChecker.check(SpecLoader.load(spec));
    }

    private SpecException fails(String yaml) {
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> check(yaml));
        assertThat(t).isInstanceOf(SpecException.class);
        return (SpecException) t;
    }

    @Test
    void validSpecRendersFilesAndKeepsPlaceholders() throws Exception {
        List<RenderedFile> files = check(VALID);
        assertThat(files).extracting(RenderedFile::path).containsExactly("/etc/motd", "/etc/node.conf");
        assertThat(files.get(0).content()).isEqualTo("Welcome to test-node 1.0.0\n");
        assertThat(files.get(1).content()).isEqualTo("name=@@node_name@@\n");
        assertThat(files.get(1).placeholders()).containsExactly("node_name");
    }

    @Test
    void yamlSyntaxErrorNamesFileAndLine() {
        SpecException e = fails(VALID.replace("  suite: bookworm", "  suite: [bookworm"));
        assertThat(e.getMessage()).contains("spec.yaml:").contains("YAML syntax error");
        assertThat(e.problems().get(0).line()).isGreaterThan(0);
    }

    @Test
    void unknownFieldIsNamedWithTheFieldsExpected() {
        SpecException e = fails(VALID.replace("  version: 6.1.176-1", "  version: 6.1.176-1\n  flavour: cloud"));
        YamlProblem p = e.problems().get(0);
        assertThat(p.line()).isEqualTo(10);
        assertThat(p.field()).isEqualTo("kernel.flavour");
        assertThat(p.message())
                .contains("unknown field 'flavour'")
                .contains("cmdline")
                .contains("package")
                .contains("version");
        assertThat(e.getMessage()).startsWith(dir.resolve("spec.yaml") + ":10:");
    }

    @Test
    void missingRequiredFieldIsNamed() {
        SpecException e = fails(VALID.replace("  version: 6.1.176-1\n", ""));
        YamlProblem p = e.problems().get(0);
        assertThat(p.field()).isEqualTo("kernel.version");
        assertThat(p.message()).contains("missing required field");
        assertThat(p.line()).isGreaterThan(0);
    }

    @Test
    void wrongTypeSaysWhatWasExpected() {
        SpecException e = fails(VALID.replace("placeholders:\n  node_name: name", "placeholders: [node_name]"));
        assertThat(e.problems().get(0).field()).isEqualTo("placeholders");
        assertThat(e.problems().get(0).message()).contains("expected a mapping");
    }

    @Test
    void missingTemplateIsNamed() {
        SpecException e = fails(VALID.replace("template: motd.ftl", "template: nope.ftl"));
        YamlProblem p = e.problems().get(0);
        assertThat(p.field()).isEqualTo("files[0].template");
        assertThat(p.line()).isEqualTo(12);
        assertThat(p.message()).contains("'nope.ftl' not found");
    }

    /** The placeholders a misspelt template would have used are not reported as unused too. */
    @Test
    void aMissingTemplateIsReportedAloneWithoutAnUnusedPlaceholderCascade() {
        String spec = VALID.replace("template: motd.ftl", "template: nope.ftl")
                .replace("    content: |\n      name=@@node_name@@\n", "    template: nope2.ftl\n");
        assertThat(spec).contains("nope2.ftl");
        SpecException e = fails(spec);
        assertThat(e.problems())
                .extracting(YamlProblem::field)
                .containsExactly("files[0].template", "files[1].template");
        assertThat(e.getMessage()).doesNotContain("declared but used in no file");
    }

    @Test
    void aDeclaredPlaceholderNoFileUsesIsStillReported() {
        SpecException e = fails(VALID.replace("name=@@node_name@@", "name=fixed"));
        assertThat(e.problems()).extracting(YamlProblem::field).containsExactly("placeholders.node_name");
        assertThat(e.getMessage()).contains("declared but used in no file");
    }

    @Test
    void templateThatFailsToRenderNamesTemplateLine() {
        SpecException e = fails(VALID.replace("template: motd.ftl", "template: broken.ftl"));
        YamlProblem p = e.problems().get(0);
        assertThat(p.field()).isEqualTo("files[0].template");
        assertThat(p.message()).contains("broken.ftl").contains("line 1").contains("missing");
    }

    @Test
    void templateThatDoesNotParseIsNamed() {
        SpecException e = fails(VALID.replace("template: motd.ftl", "template: unclosed.ftl"));
        assertThat(e.problems().get(0).message()).contains("unclosed.ftl");
    }

    @Test
    void placeholderUsedButNotDeclared() {
        SpecException e = fails(VALID.replace("name=@@node_name@@", "name=@@node_name@@ role=@@node_role@@"));
        YamlProblem p = e.problems().get(0);
        assertThat(p.field()).isEqualTo("files[1].content");
        assertThat(p.message()).contains("@@node_role@@").contains("not declared");
    }

    @Test
    void placeholderDeclaredButUsedNowhere() {
        SpecException e = fails(VALID + "  node_role: role\n");
        YamlProblem p = e.problems().get(0);
        assertThat(p.field()).isEqualTo("placeholders.node_role");
        assertThat(p.line()).isEqualTo(18);
        assertThat(p.message()).contains("used in no file");
    }

    @Test
    void badValuesAreAllReportedAtOnce() {
        SpecException e = fails(VALID.replace("name: test-node", "name: Test_Node")
                .replace("version: 6.1.176-1", "version: latest")
                .replace("template: motd.ftl", "template: motd.ftl\n    mode: rw"));
        assertThat(e.problems()).extracting(YamlProblem::field).contains("name", "kernel.version", "files[0].mode");
    }

    @Test
    void downloadWithoutChecksumIsRefused() {
        SpecException e = fails(VALID + """
                components:
                  kubelet:
                    version: 1.34.2
                    url: https://dl.k8s.io/release/v1.34.2/bin/linux/amd64/kubelet
                    install: /usr/bin/kubelet
                """);
        assertThat(e.problems()).extracting(YamlProblem::field).contains("components.kubelet.sha256");
    }

    @Test
    void missingSpecFileIsAClearError() {
        assertThatThrownBy(() -> SpecLoader.load(dir.resolve("absent.yaml")))
                .isInstanceOf(SpecException.class)
                .hasMessageContaining("absent.yaml")
                .hasMessageContaining("not found");
    }
}
