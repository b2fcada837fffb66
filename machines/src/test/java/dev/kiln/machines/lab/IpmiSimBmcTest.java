package dev.kiln.machines.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.machines.Machine.PowerState;
import dev.kiln.machines.bmc.BmcEndpoint;
import dev.kiln.machines.bmc.BmcException;
import dev.kiln.machines.bmc.IpmiMachine;
import dev.kiln.machines.bmc.Secret;
import dev.kiln.machines.qemu.QemuVm;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ipmi driver (ipmitool -I lanplus) against the lab's BMC: OpenIPMI's ipmi_sim, whose
 * chassis_control program starts and stops a real QEMU process through the lab's power panel. The
 * QEMU machine has no disk and no NIC: what is checked is its power, not what it boots.
 */
@Tag("vm")
class IpmiSimBmcTest {
    @TempDir
    Path tmp;

    @Test
    void powerBootOverrideAndCycleReachTheMachinesQemu() throws Exception {
        try (QemuVm vm = QemuVm.builder("m1", tmp.resolve("m1"))
                        .args(List.of("-machine", "accel=tcg", "-nodefaults", "-m", "32"))
                        .build();
                PowerPanel panel = PowerPanel.start()) {
            LabMachine lab = new LabMachine(vm);
            panel.add(lab);
            try (IpmiSimBmc sim = IpmiSimBmc.start(lab, panel, tmp.resolve("bmc-m1"), ProcessBuilder::start)) {
                IpmiMachine ipmi = new IpmiMachine(sim.endpoint("m1", Duration.ofSeconds(3)));

                assertThat(ipmi.powerState()).isEqualTo(PowerState.OFF);
                ipmi.powerOn();
                assertThat(vm.powerState()).isEqualTo(PowerState.ON);
                assertThat(ipmi.powerState()).isEqualTo(PowerState.ON);
                long firstPid = vm.pid().orElseThrow();

                ipmi.bootOnceFromNetwork();
                assertThat(lab.override()).isEqualTo(LabMachine.BootOverride.PXE);
                assertThat(ipmi.bootDevice()).isEqualTo("Force PXE");

                // ipmi_sim powers off at once and on again a second later.
                ipmi.powerCycle();
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (vm.pid().orElse(firstPid) == firstPid && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                long secondPid = vm.pid().orElseThrow();
                assertThat(secondPid).isNotEqualTo(firstPid);
                // The override was for this boot only: QEMU got it, the BMC forgot it.
                assertThat(ProcessHandle.of(secondPid)
                                .orElseThrow()
                                .info()
                                .arguments()
                                .orElseThrow())
                        .containsSequence("-boot", "once=n");
                assertThat(lab.override()).isEqualTo(LabMachine.BootOverride.NONE);

                ipmi.powerOff();
                assertThat(vm.powerState()).isEqualTo(PowerState.OFF);
                assertThat(ipmi.powerState()).isEqualTo(PowerState.OFF);
            }
        }
    }

    @Test
    void aWrongPasswordIsOneClearErrorThatNamesNodeAndBmcButNotThePassword() throws Exception {
        try (QemuVm vm = QemuVm.builder("m1", tmp.resolve("m1"))
                        .args(List.of("-machine", "accel=tcg", "-m", "32"))
                        .build();
                PowerPanel panel = PowerPanel.start()) {
            LabMachine lab = new LabMachine(vm);
            panel.add(lab);
            try (IpmiSimBmc sim = IpmiSimBmc.start(lab, panel, tmp.resolve("bmc-m1"), ProcessBuilder::start)) {
                BmcEndpoint wrong = new BmcEndpoint(
                        "m1",
                        sim.address(),
                        sim.user(),
                        Secret.of("not-the-password", "file /etc/kiln/m1.pass"),
                        null,
                        null,
                        false,
                        false,
                        Duration.ofSeconds(3),
                        IpmiSimBmc.CIPHER_SUITE);
                assertThatThrownBy(() -> new IpmiMachine(wrong).powerOn())
                        .isInstanceOfSatisfying(
                                BmcException.class, e -> assertThat(e.kind()).isEqualTo(BmcException.Kind.AUTH))
                        .hasMessageStartingWith("node m1, BMC " + sim.address() + ": ")
                        .hasMessageContaining("login as 'admin' refused")
                        .hasMessageContaining("file /etc/kiln/m1.pass")
                        .hasMessageNotContaining("not-the-password");
                assertThat(vm.powerState()).isEqualTo(PowerState.OFF);
            }
        }
    }

    @Test
    void anUnreachableBmcTimesOutNamingNodeAndAddress() throws Exception {
        int port;
        try (DatagramSocket s = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        BmcEndpoint nobody = new BmcEndpoint(
                "w7",
                "127.0.0.1:" + port,
                "admin",
                Secret.of("x", "test"),
                null,
                null,
                false,
                false,
                Duration.ofSeconds(1),
                IpmiSimBmc.CIPHER_SUITE);
        assertThatThrownBy(() -> new IpmiMachine(nobody).powerState())
                .isInstanceOfSatisfying(
                        BmcException.class, e -> assertThat(e.kind()).isEqualTo(BmcException.Kind.UNREACHABLE))
                .hasMessageStartingWith("node w7, BMC 127.0.0.1:" + port + ": no answer within 1 s");
    }
}
