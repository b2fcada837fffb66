package dev.kiln.validator.provider;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.validator.RunLabel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the provider leaves when its run crashes (beyond qemu-pxe's: the IMDS NAT rule), and that
 * --cleanup removes it. Booting clusters is ValidateQemuDiskTest's job. Needs root, QEMU, OVMF,
 * dnsmasq and iptables.
 */
@Tag("vm")
class QemuDiskProviderTest {
    private static final ImageRef IMAGE = ImageRef.parse("debian-node:1.0.0-20261127.1");

    @TempDir
    Path tmp;

    @Test
    void cleanupStaleRemovesACrashedRunsNatRuleNetworkAndProcesses() throws Exception {
        TestImages.debianNode();
        ImageStore store = TestImages.store();
        RunLabel run = RunLabel.create(tmp);
        try (QemuDiskProvider provider = new QemuDiskProvider(run, store.dir(IMAGE), line -> {})) {
            NodeProvider.Lan lan = provider.createNetwork(1);
            provider.start(
                    List.of(new NodeProvider.NodeBoot(
                            "m1",
                            "master",
                            "52:54:00:4b:21:01",
                            lan.nodeAddresses().get(0),
                            "t",
                            Map.of("name", "m1"))),
                    "http://" + lan.serverAddress() + ":9");
            assertThat(natRules(run)).hasSize(1);

            List<String> log = new ArrayList<>();
            // Every other run counts as live, so runs of other tests or users stay untouched.
            int removed = QemuDiskProvider.cleanupStale(id -> !id.equals(run.id()), log::add);

            // NAT rule, QEMU, dnsmasq, veth, namespace
            assertThat(removed).as(String.join("\n", log)).isEqualTo(5);
            assertThat(natRules(run)).isEmpty();
            assertThat(NamespaceLan.exec(List.of("ip", "netns", "list"), "")).doesNotContain("kiln-" + run.id());
            assertThat(NamespaceLan.exec(List.of("ip", "-o", "link", "show"), ""))
                    .doesNotContain(run.id());
        } finally {
            run.deleteDir();
        }
    }

    private static List<String> natRules(RunLabel run) {
        return NamespaceLan.exec(List.of("iptables", "-t", "nat", "-S", "PREROUTING"), "")
                .lines()
                .filter(l -> l.contains(run.processMarker()))
                .toList();
    }
}
