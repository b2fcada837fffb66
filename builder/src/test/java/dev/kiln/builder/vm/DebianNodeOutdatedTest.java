package dev.kiln.builder.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.builder.TestSupport;
import dev.kiln.builder.apt.DebianVersion;
import dev.kiln.builder.build.ImageBuilder;
import dev.kiln.builder.spec.SpecLoader;
import dev.kiln.builder.update.Bump;
import dev.kiln.builder.update.Outdated;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kiln outdated and kiln bump on the shipped image-specs/debian-node.yaml against the real Debian
 * mirror (bookworm, bookworm-security, bookworm-updates), with the installed packages of the
 * debian-node image this run builds once (TestImages).
 */
@Tag("vm")
class DebianNodeOutdatedTest {
    @TempDir
    Path tmp;

    @Test
    void namesTheSecurityKernelAndOtherSecurityUpdatesAndTheBumpedSpecPassesTheDryRun() throws Exception {
        Manifest built = TestImages.debianNode();
        SpecLoader.Loaded shipped = SpecLoader.load(TestSupport.repo("image-specs/debian-node.yaml"));

        Outdated.Report r = Outdated.check(shipped, built, s -> {});

        Outdated.Item kernel = r.updates().stream()
                .filter(i -> i.kind().equals("kernel"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no kernel update reported: " + r.updates()));
        assertThat(kernel.pkg()).isEqualTo(shipped.spec().kernel().packageName());
        assertThat(kernel.newPkg())
                .as("a kernel update is a new ABI package")
                .isNotEqualTo(kernel.pkg())
                .matches("linux-image-6\\.1\\.0-\\d+-cloud-amd64");
        assertThat(DebianVersion.parse(kernel.newest()).isNewerThan(DebianVersion.parse(kernel.current())))
                .isTrue();
        assertThat(kernel.suite()).isEqualTo("bookworm-security");
        assertThat(kernel.security()).isTrue();
        assertThat(kernel.via()).startsWith("linux-image-cloud-amd64 ");
        assertThat(r.updates())
                .as("security updates of packages the image has installed (openssl, pam, ...)")
                .anySatisfy(i -> {
                    assertThat(i.kind()).isEqualTo("installed");
                    assertThat(i.security()).isTrue();
                    assertThat(i.suite()).isEqualTo("bookworm-security");
                });
        for (Outdated.Item i : r.updates()) {
            assertThat(DebianVersion.parse(i.newest()).isNewerThan(DebianVersion.parse(i.current())))
                    .as("never a downgrade: " + i)
                    .isTrue();
        }
        assertThat(r.exitCode(true)).isEqualTo(Outdated.UPDATES_EXIT);

        // bump --kernel on a copy (templates resolve as beside the shipped spec)
        Path specs = Files.createDirectories(tmp.resolve("image-specs"));
        Files.createSymbolicLink(tmp.resolve("templates"), TestSupport.repo("templates"));
        Path copy = specs.resolve("debian-node.yaml");
        Files.writeString(copy, shipped.text());
        SpecLoader.Loaded loaded = SpecLoader.load(copy);
        Bump.Result bumped =
                Bump.apply(loaded, r, new Bump.Selection(true, false), null, LocalDate.now(ZoneOffset.UTC));
        Files.writeString(copy, bumped.text());

        ImageBuilder.Plan plan = new ImageBuilder(
                        new ImageStore(tmp.resolve("store")),
                        tmp.resolve("cache"),
                        dev.kiln.core.progress.Progress.SILENT)
                .plan(copy);
        assertThat(plan.loaded().spec().kernel().packageName()).isEqualTo(kernel.newPkg());
        assertThat(plan.loaded().spec().kernel().version()).isEqualTo(kernel.newest());
        assertThat(plan.packages().sources())
                .extracting(s -> s.suite())
                .as("the security suite the kernel comes from is a build source now")
                .contains("bookworm-security");
        assertThat(bumped.newVersion()).isNotEqualTo(shipped.spec().version()).startsWith("1.0.1-");
        // Only the kernel, the version and the added suite changed; every comment is still there.
        for (String line : shipped.text().split("\n")) {
            if (line.trim().startsWith("#")) {
                assertThat(bumped.text()).contains(line);
            }
        }
        assertThat(bumped.text())
                .contains("packageVersion: "
                        + shipped.spec().components().get("containerd").packageVersion());
    }
}
