package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.aws.AwsClients;
import dev.kiln.aws.Moto;
import dev.kiln.builder.TestImages;
import dev.kiln.builder.TestSupport;
import dev.kiln.builder.apt.DebianVersion;
import dev.kiln.builder.spec.ImageSpec;
import dev.kiln.builder.spec.SpecLoader;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.regions.Region;

/**
 * ci/pipelines/kiln-pipeline.sh end to end, as a CI job runs it: a spec with an outdated kernel pin
 * → nightly (outdated, bump, a branch) → release (build, validate on node containers, publish to S3
 * on moto, the promote hook). One build: the spec makes only rootfs.tar, and its package layer
 * lands in the shared test cache.
 */
@Tag("vm")
@Tag("aws")
class PipelineEndToEndTest {
    static final String SECRET = "kiln-test-secret";

    @TempDir
    Path tmp;

    @Test
    void outdatedPinIsBumpedBuiltValidatedAndPublished() throws Exception {
        Path repo = Files.createDirectories(tmp.resolve("repo"));
        Path spec = Files.createDirectories(repo.resolve("image-specs")).resolve("pipeline-node.yaml");
        String shipped = Files.readString(TestSupport.repo("image-specs/debian-node.yaml"));
        // debian-node as shipped (its kernel pin is older than bookworm-security's), rootfs.tar
        // only.
        Files.writeString(
                spec,
                shipped.replaceFirst(
                                "(?m)^name: debian-node$",
                                "name: pipeline-node\ntemplates: " + TestSupport.repo("templates"))
                        .replaceFirst("(?m)^outputs: .*$", "outputs: [rootfs-tar]"));
        git(repo, "init", "-q", "-b", "main");
        git(repo, "add", ".");
        git(repo, "-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-q", "-m", "spec");
        ImageSpec before = SpecLoader.load(spec).spec();
        // dev takes a version that formed a cluster on containers, as the pipeline validates it.
        Path environments = Files.writeString(tmp.resolve("environments.yaml"), """
                environments:
                  - name: dev
                    gates:
                      - validated: {provider: container, masters: 1, workers: 1}
                """);

        Moto moto = Moto.shared();
        try (AwsClients aws = moto.freshClients("us-east-1", 2)) {
            aws.s3(Region.US_EAST_1).createBucket(b -> b.bucket("pipeline"));
            Map<String, String> env = new java.util.HashMap<>(Map.of(
                    "KILN",
                    kilnCommand().toString(),
                    "KILN_STORE",
                    tmp.resolve("store").toString(),
                    "KILN_CACHE",
                    TestImages.cacheDir().toString(),
                    "KILN_REPORTS",
                    tmp.resolve("reports").toString(),
                    "KILN_BUMP",
                    "--kernel",
                    "KILN_BRANCH",
                    "kiln/bump-test",
                    "KILN_VALIDATE_PROVIDER",
                    "container",
                    "KILN_VALIDATE_WORKERS",
                    "1",
                    "KILN_S3",
                    "s3://pipeline/images",
                    "KILN_AWS_ENDPOINT_URL",
                    moto.endpoint().toString()));
            env.put("KILN_ENVIRONMENTS", environments.toString());
            env.putAll(Map.of(
                    "AWS_ACCESS_KEY_ID",
                    "AKIAKILNTEST00000000",
                    "AWS_SECRET_ACCESS_KEY",
                    SECRET,
                    "AWS_REGION",
                    "us-east-1"));

            String nightly = pipeline(repo, env, "nightly", "image-specs/pipeline-node.yaml");

            ImageSpec after = SpecLoader.load(spec).spec();
            assertThat(after.kernel().packageName())
                    .as(nightly)
                    .isNotEqualTo(before.kernel().packageName());
            assertThat(DebianVersion.parse(after.kernel().version())
                            .isNewerThan(DebianVersion.parse(before.kernel().version())))
                    .isTrue();
            assertThat(after.base().repositories())
                    .extracting(ImageSpec.Repository::suite)
                    .containsExactly("bookworm-security");
            assertThat(git(repo, "rev-parse", "--abbrev-ref", "HEAD").trim()).isEqualTo("kiln/bump-test");
            assertThat(git(repo, "log", "-1", "--format=%s")).contains("kiln bump: pipeline-node:" + after.version());
            assertThat(git(repo, "status", "--porcelain"))
                    .as("the bumped spec is committed")
                    .isBlank();

            String release = pipeline(repo, env, "release", "--changed-since", "main");

            String version = after.version();
            assertThat(release)
                    .contains("== build image-specs/pipeline-node.yaml")
                    .contains("== validate pipeline-node:" + version + " on container")
                    .contains("== publish pipeline-node:" + version + " to s3://pipeline/images")
                    .contains("== promote pipeline-node:" + version + " to dev")
                    .doesNotContain(SECRET);
            assertThat(nightly).doesNotContain(SECRET);
            Path junit =
                    tmp.resolve("reports").resolve("pipeline-node-" + version).resolve("junit.xml");
            assertThat(junit).exists();
            assertThat(Files.readString(junit)).contains("failures=\"0\"");
            byte[] published = aws.s3(Region.US_EAST_1)
                    .getObjectAsBytes(
                            b -> b.bucket("pipeline").key("images/pipeline-node/" + version + "/manifest.json"))
                    .asByteArray();
            Manifest m = Json.MAPPER.readValue(published, Manifest.class);
            assertThat(m.kernel().packageName()).isEqualTo(after.kernel().packageName());
            assertThat(m.kernel().version()).isEqualTo(after.kernel().version());
            // The channel moved: kiln channels reads it back from the store's records.
            JsonNode channels = Json.MAPPER.readTree(run(
                    List.of(
                            kilnCommand().toString(),
                            "channels",
                            "pipeline-node",
                            "--store",
                            tmp.resolve("store").toString(),
                            "--json"),
                    Map.of()));
            assertThat(channels.toString())
                    .as(channels.toPrettyString())
                    .contains("\"dev\"")
                    .contains(version);
        } finally {
            // The container provider imports rootfs.tar into dockerd (once per build); this image
            // is the test's alone.
            removeDockerImages("kiln-node/pipeline-node");
        }
    }

    private static void removeDockerImages(String repository) throws Exception {
        Process list = new ProcessBuilder("docker", "images", "-q", repository)
                .redirectErrorStream(true)
                .start();
        List<String> ids = new String(list.getInputStream().readAllBytes())
                .lines()
                .filter(l -> !l.isBlank())
                .distinct()
                .toList();
        list.waitFor();
        if (!ids.isEmpty()) {
            List<String> cmd = new java.util.ArrayList<>(List.of("docker", "rmi", "-f"));
            cmd.addAll(ids);
            new ProcessBuilder(cmd).redirectErrorStream(true).start().waitFor();
        }
    }

    /**
     * Runs the pipeline script in {@code repo}; fails the test with its output unless it exits 0.
     */
    private static String pipeline(Path repo, Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(
                List.of(TestSupport.repo("ci/pipelines/kiln-pipeline.sh").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(repo.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        StringBuilder out = new StringBuilder();
        Thread reader = new Thread(() -> {
            try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
                String line;
                while ((line = r.readLine()) != null) {
                    System.out.println("pipeline " + args[0] + ": " + line);
                    synchronized (out) {
                        out.append(line).append('\n');
                    }
                }
            } catch (java.io.IOException ignored) {
                // the process ended
            }
        });
        reader.start();
        if (!p.waitFor(25, TimeUnit.MINUTES)) {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
            p.waitFor(60, TimeUnit.SECONDS);
        }
        reader.join(10_000);
        synchronized (out) {
            assertThat(p.exitValue())
                    .as("kiln-pipeline.sh " + String.join(" ", args) + ":\n" + out)
                    .isZero();
            return out.toString();
        }
    }

    /**
     * kiln as the script calls it: this module's classes on the test class path, in a fresh JVM.
     */
    private Path kilnCommand() throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path wrapper = tmp.resolve("kiln");
        Files.writeString(wrapper, "#!/bin/sh\nexec '" + java + "' -cp '" + cp + "' dev.kiln.cli.Main \"$@\"\n");
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
        return wrapper;
    }

    /** A command's standard output; fails the test unless it exits 0. */
    private static String run(List<String> cmd, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as(String.join(" ", cmd) + ": " + out).isZero();
        return out;
    }

    private static String git(Path repo, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("git"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd)
                .directory(repo.toFile())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as("git " + String.join(" ", args) + ": " + out).isZero();
        return out;
    }
}
