package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.builder.TestSupport;
import dev.kiln.core.exec.Exec;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node agent (templates/agent/kiln-agent, POSIX sh) against a real kiln serve on loopback, on
 * an image root laid out in a temp dir: what it renders, what it refuses, what it reports. The VM
 * tests (vm/PxeBootTest) show the same on a booted node; this one runs in seconds.
 */
class NodeAgentTest {
    private static final String MAC = "52:54:00:12:34:01";
    private static final String TRICKY = "a/b&c\\d 'single' \"double\" $(not run) `nor this` %s @@x@@";

    @TempDir
    Path tmp;

    private KilnServer server;
    private Path root;

    @BeforeEach
    void setUp() throws Exception {
        ImageStore store = new ImageStore(tmp.resolve("store"));
        TestStore.pxeVersion(store, "debian-node", "1.0.0", 4096);
        Path inventory = tmp.resolve("inventory.yaml");
        Files.writeString(inventory, """
                clusters:
                  - name: lab
                    image: debian-node:1.0.0
                    nodes:
                      - mac: "%s"
                        name: m1
                        role: master
                        address: 127.0.0.1
                        metadata:
                          tricky: %s
                          kilnChecks: %s
                """.formatted(
                        MAC,
                        Json.MAPPER.writeValueAsString(TRICKY),
                        Json.MAPPER.writeValueAsString(
                                "{\"node\": [{\"check\": \"image-identity\", \"expect\": {\"name\": \"debian-node\", \"version\": \"2.0.0\"}},"
                                        + " {\"check\": \"hygiene\"}], \"cluster\": []}")));
        server = KilnServer.start(
                new KilnServer.Options(inventory, store, "127.0.0.1", 0, null, tmp.resolve("state"), 200));
        root = tmp.resolve("root");
        write(
                "etc/kiln/image.json",
                "{\"name\":\"debian-node\",\"version\":\"1.0.0\",\"kernel\":\"6.1.0-50-cloud-amd64\"}\n");
        write(
                "usr/lib/kiln/bootstrap/init-master",
                "#!/bin/sh\nprintf '%s %s\\n' \"$KILN_META_name\" \"$KILN_META_role\" > "
                        + tmp.resolve("bootstrap-ran")
                        + "\n");
        Exec.of(
                        "chmod",
                        "0755",
                        root.resolve("usr/lib/kiln/bootstrap/init-master").toString())
                .run();
        write("usr/lib/kiln/kiln-check", Files.readString(TestSupport.repo("templates/agent/kiln-check")));
        Exec.of("chmod", "0755", root.resolve("usr/lib/kiln/kiln-check").toString())
                .run();
        write("etc/machine-id", "0123456789abcdef0123456789abcdef\n");
        write("cmdline", "console=ttyS0 kiln.server=" + server.publicUrl() + " kiln.token=" + server.token(MAC) + "\n");
    }

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
    }

    private void write(String rel, String content) throws Exception {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
    }

    /** The image's placeholder registry and a file using the given placeholders. */
    private void placeholders(String registry, String original) throws Exception {
        write("etc/kiln/placeholders.json", registry);
        write("usr/lib/kiln/placeholder-files/etc/app.conf", original);
        write("etc/app.conf", original);
    }

    private Exec.Result runAgent() throws Exception {
        return Exec.of("sh", TestSupport.repo("templates/agent/kiln-agent").toString())
                .env("KILN_AGENT_ROOT", root.toString())
                .env("KILN_AGENT_CMDLINE", root.resolve("cmdline").toString())
                .env("KILN_AGENT_STATE", tmp.resolve("run").toString())
                .runAllowingFailure();
    }

    private JsonNode status() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create(server.publicUrl() + "/nodes"))
                                .header("Authorization", "Bearer " + server.operatorToken())
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
        return Json.MAPPER.readTree(r.body()).get(0);
    }

    @Test
    void fillsEveryPlaceholderExactlyRunsTheRoleAndReportsReady() throws Exception {
        placeholders("""
                {"placeholders": {"node_name": "name", "tricky": "tricky", "peers": "etcdInitialCluster"},
                 "files": {"/etc/app.conf": ["node_name", "tricky", "peers"]},
                 "originals": "/usr/lib/kiln/placeholder-files"}
                """, "name=@@node_name@@\ntricky=@@tricky@@\npeers=@@peers@@\nkept=${SHELL} [=x]\n");

        Exec.Result r = runAgent();

        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(root.resolve("etc/app.conf"))
                .hasContent("name=m1\ntricky=" + TRICKY + "\npeers=m1=http://127.0.0.1:2380\nkept=${SHELL} [=x]\n");
        assertThat(tmp.resolve("bootstrap-ran")).hasContent("m1 init-master");
        assertThat(r.output()).contains("kiln-agent: metadata-fetched").contains("kiln-agent: ready");
        JsonNode node = status();
        assertThat(node.path("step").asText()).isEqualTo("ready");
        assertThat(node.path("reportedImage").asText()).isEqualTo("debian-node:1.0.0");
        // Every boot starts from the pristine copy, so running again gives the same file.
        assertThat(runAgent().exitCode()).isZero();
        assertThat(Files.readString(root.resolve("etc/app.conf"))).startsWith("name=m1\n");
    }

    @Test
    void missingValueFailsNamingTheKeyAndRendersNothing() throws Exception {
        String original = "name=@@node_name@@\nntp=@@ntp_server@@\n";
        placeholders("""
                {"placeholders": {"node_name": "name", "ntp_server": "ntpServer"},
                 "files": {"/etc/app.conf": ["node_name", "ntp_server"]},
                 "originals": "/usr/lib/kiln/placeholder-files"}
                """, original);

        Exec.Result r = runAgent();

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(root.resolve("etc/app.conf")).as("nothing half-rendered").hasContent(original);
        assertThat(tmp.resolve("bootstrap-ran")).doesNotExist();
        JsonNode node = status();
        assertThat(node.path("step").asText()).isEqualTo("failed");
        assertThat(node.path("detail").asText())
                .contains("ntpServer")
                .contains("@@ntp_server@@")
                .contains("/etc/app.conf");
        assertThat(server.status(MAC).phase()).as("the step that failed").isEqualTo("placeholders");
        assertThat(server.status(MAC).checks()).as("no checks after a failure").isNull();
    }

    @Test
    void nodeWithoutKernelArgumentsReadsEtcKilnCmdlineAndSendsCheckResults() throws Exception {
        placeholders(
                "{\"placeholders\": {}, \"files\": {}, \"originals\": \"/usr/lib/kiln/placeholder-files\"}", "x\n");
        // As in a container: the kernel's command line says nothing about kiln.
        write("etc/kiln/cmdline", Files.readString(root.resolve("cmdline")));
        write("cmdline", "console=ttyS0\n");

        Exec.Result r = runAgent();

        assertThat(r.exitCode()).as(r.output()).isZero();
        NodeStatus s = server.status(MAC);
        assertThat(s.step())
                .as("check results do not change the step peers wait for")
                .isEqualTo("ready");
        assertThat(s.checks())
                .extracting(c -> c.get("check"), c -> c.get("status"))
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("image-identity", "fail"),
                        org.assertj.core.groups.Tuple.tuple("hygiene", "pass"));
        assertThat(s.checks().get(0).get("detail").toString()).contains("version is \"1.0.0\", expected \"2.0.0\"");
        assertThat(s.checks().get(1).get("facts").toString()).contains("0123456789abcdef0123456789abcdef");
        assertThat(r.output()).contains("kiln-check: image-identity fail");
    }

    @Test
    void wrongTokenIsRefusedAndTheAgentFails() throws Exception {
        placeholders(
                "{\"placeholders\": {}, \"files\": {}, \"originals\": \"/usr/lib/kiln/placeholder-files\"}", "x\n");
        write("cmdline", "kiln.server=" + server.publicUrl() + " kiln.token=" + "0".repeat(64) + "\n");

        Exec.Result r = runAgent();

        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.output()).contains("kiln-agent: failed").contains("403");
        assertThat(tmp.resolve("bootstrap-ran")).doesNotExist();
    }
}
