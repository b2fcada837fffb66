package dev.kiln.validator;

import dev.kiln.builder.TestImages;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Manifest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** One validation from a test: its report, what it printed, and where its reports went. */
record ValidationRun(ValidationReport report, List<String> output, Path reportDir, Path tmpRoot) {

    static ValidationRun of(Manifest image, String provider, int masters, int workers, Duration timeout, Path work)
            throws Exception {
        return of(image, provider, masters, workers, timeout, work, null);
    }

    /**
     * @param diskBytes qemu-disk's disk size per node, null for disk.raw's own
     */
    static ValidationRun of(
            Manifest image, String provider, int masters, int workers, Duration timeout, Path work, Long diskBytes)
            throws Exception {
        return of(image, provider, masters, workers, timeout, work, diskBytes, false);
    }

    /**
     * @param firmwarePxe qemu-pxe through UEFI firmware PXE and kiln's ProxyDHCP
     */
    static ValidationRun of(
            Manifest image,
            String provider,
            int masters,
            int workers,
            Duration timeout,
            Path work,
            Long diskBytes,
            boolean firmwarePxe)
            throws Exception {
        List<String> out = new CopyOnWriteArrayList<>();
        Path reports = work.resolve("reports");
        Path tmpRoot = work.resolve("tmp");
        java.nio.file.Files.createDirectories(tmpRoot);
        ValidationReport r = Validator.run(new Validator.Request(
                dev.kiln.core.store.ImageSource.local(TestImages.store()),
                new ImageRef(image.name(), image.version()),
                provider,
                masters,
                workers,
                timeout,
                reports,
                tmpRoot,
                line -> {
                    out.add(line);
                    System.out.println(line);
                },
                diskBytes,
                firmwarePxe));
        return new ValidationRun(r, out, reports, tmpRoot);
    }

    /**
     * A good debian-node cluster: passed, every node ran every node check (kernel-version with
     * {@code kernelStatus}: pass on QEMU, skip on containers), the etcd cluster formed, and nothing
     * of the run is left.
     */
    void assertValidated(String kernelStatus) throws java.io.IOException {
        org.assertj.core.api.Assertions.assertThat(report.passed())
                .as(printed())
                .isTrue();
        for (ValidationReport.Node n : report.nodes()) {
            org.assertj.core.api.Assertions.assertThat(n.checks())
                    .extracting(ValidationReport.Check::check, ValidationReport.Check::status)
                    .containsExactly(
                            org.assertj.core.groups.Tuple.tuple("kernel-version", kernelStatus),
                            org.assertj.core.groups.Tuple.tuple("units-active", "pass"),
                            org.assertj.core.groups.Tuple.tuple("image-identity", "pass"),
                            org.assertj.core.groups.Tuple.tuple("hygiene", "pass"));
        }
        org.assertj.core.api.Assertions.assertThat(report.cluster())
                .extracting(ValidationReport.Check::check, ValidationReport.Check::status)
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple("etcd-members", "pass"),
                        org.assertj.core.groups.Tuple.tuple("etcd-healthy", "pass"));
        org.assertj.core.api.Assertions.assertThat(Leftovers.of(report.runId(), tmpRoot))
                .isEmpty();
    }

    ValidationReport.Node node(String name) {
        return report.nodes().stream()
                .filter(n -> n.name().equals(name))
                .findFirst()
                .orElseThrow();
    }

    String printed() {
        return String.join("\n", output);
    }
}
