package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.core.node.AgentStep;
import dev.kiln.core.store.Manifest;
import dev.kiln.fleet.Inventory;
import dev.kiln.fleet.InventoryLoader;
import dev.kiln.fleet.NodeStatus;
import dev.kiln.machines.Machine;
import dev.kiln.validator.power.BmcMachines;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * kiln lab with 1 master + 1 worker behind each kind of BMC: what {@code kiln bmc pxe-once} and
 * {@code kiln bmc cycle} do (the inventory's bmc: entry through the ipmi or redfish driver) reboots
 * the worker, kiln serve sees it boot again from its assigned version, and closing the lab leaves
 * nothing behind.
 */
@Tag("vm")
class LabTest {
    @TempDir
    Path tmp;

    // Redfish only: the ipmi driver's power cycle and network boot run in NodeStorageTest and in the
    // rollout's lab test (RolloutLabTest, whose BMCs alternate ipmi and Redfish).
    @ParameterizedTest
    @ValueSource(strings = {"redfish"})
    void aBmcPowerCycleRebootsTheNodeAndServeSeesItBootItsAssignedVersion(String bmc) throws Exception {
        Manifest image = TestImages.debianNode();
        Path dir = tmp.resolve("lab");
        Path tmpRoot = Files.createDirectories(tmp.resolve("runs"));
        String runId;
        try (Lab lab = Lab.start(new Lab.Request(
                TestImages.store(),
                dev.kiln.core.store.ImageRef.parse(image.ref()),
                1,
                1,
                bmc,
                dir,
                tmpRoot,
                l -> System.out.println("lab: " + l)))) {
            runId = lab.runId();
            Inventory inv = InventoryLoader.load(dir.resolve("inventory.yaml"), TestImages.store());
            Inventory.Member w1 = inv.members().stream()
                    .filter(m -> m.name().equals("w1"))
                    .findFirst()
                    .orElseThrow();
            assertThat(w1.node().bmc().driver()).isEqualTo(bmc);
            assertThat(Files.readString(dir.resolve("inventory.yaml")))
                    .doesNotContain(Files.readString(dir.resolve("bmc.pass")).strip());

            awaitStep(lab, w1.mac(), "booted", Duration.ofSeconds(400));
            List<NodeStatus> after = new CopyOnWriteArrayList<>();
            lab.server().onStatus((mac, s) -> {
                if (mac.equals(w1.mac())) {
                    after.add(s);
                }
            });
            try (Machine machine =
                    BmcMachines.of(w1, dir.resolve("inventory.yaml"), Duration.ofSeconds(10), System.out::println)) {
                assertThat(machine.powerState()).isEqualTo(Machine.PowerState.ON);
                machine.bootOnceFromNetwork();
                machine.powerCycle();
            }
            // The first boot's later steps may still arrive; the new boot is iPXE, then "booted".
            long deadline = System.nanoTime() + Duration.ofSeconds(400).toNanos();
            while (newBoot(after) == null && System.nanoTime() < deadline) {
                Thread.sleep(1000);
            }
            NodeStatus booted = newBoot(after);
            assertThat(booted)
                    .as("w1 boots again after the power cycle; seen: %s", after)
                    .isNotNull();
            assertThat(booted.reportedImage()).isEqualTo(image.ref());
        }
        assertThat(Leftovers.of(runId, tmpRoot)).isEmpty();
        assertThat(dir).doesNotExist();
    }

    /** The "booted" report that follows kiln serve handing out an iPXE script, or null. */
    private static NodeStatus newBoot(List<NodeStatus> seen) {
        boolean ipxe = false;
        for (NodeStatus s : seen) {
            ipxe |= NodeStatus.IPXE.equals(s.step());
            if (ipxe && "booted".equals(s.step())) {
                return s;
            }
        }
        return null;
    }

    private static void awaitStep(Lab lab, String mac, String step, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            NodeStatus s = lab.server().status(mac);
            if (s != null
                    && AgentStep.wireNames().indexOf(s.step())
                            >= AgentStep.wireNames().indexOf(step)) {
                return;
            }
            Thread.sleep(1000);
        }
        throw new AssertionError("node " + mac + " did not reach " + step + " within " + timeout.toSeconds() + " s");
    }
}
