package dev.kiln.machines.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.exec.Exec;
import dev.kiln.machines.Machine.PowerState;
import dev.kiln.machines.bmc.BmcEndpoint;
import dev.kiln.machines.bmc.BmcException;
import dev.kiln.machines.bmc.RedfishMachine;
import dev.kiln.machines.bmc.Secret;
import dev.kiln.machines.qemu.QemuVm;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The redfish driver against the lab's Redfish service over TLS verified with its caFile, and the
 * service's wire format checked with Debian's own Redfish clients, redfishtool and python3-sushy.
 * Behind it, real QEMU processes (no disk, no NIC: power is what is checked).
 */
@Tag("vm")
class RedfishServiceTest {
    @TempDir
    Path tmp;

    QemuVm m1;
    QemuVm m2;
    LabMachine lab1;
    LabCertificate cert;
    RedfishService service;
    final Secret password = Secret.of("lab-Pa55word", "test");

    @BeforeEach
    void start() throws Exception {
        m1 = QemuVm.builder("m1", tmp.resolve("m1"))
                .args(List.of("-machine", "accel=tcg", "-nodefaults", "-m", "32"))
                .build();
        m2 = QemuVm.builder("w1", tmp.resolve("w1"))
                .args(List.of("-machine", "accel=tcg", "-nodefaults", "-m", "32"))
                .build();
        cert = LabCertificate.create(tmp.resolve("tls"));
        service = RedfishService.start(cert, "admin", password);
        lab1 = new LabMachine(m1);
        service.add(lab1);
        service.add(new LabMachine(m2));
    }

    @AfterEach
    void stop() {
        service.close();
        m1.close();
        m2.close();
    }

    private BmcEndpoint endpoint(String node, Secret pw, Path caFile) {
        return new BmcEndpoint(
                node, service.url(), "admin", pw, node, caFile, false, false, Duration.ofSeconds(5), null);
    }

    @Test
    void theDriverPowersCyclesAndBootsOnceFromTheNetwork() throws Exception {
        try (RedfishMachine rf = new RedfishMachine(endpoint("m1", password, cert.caFile()))) {
            assertThat(rf.powerState()).isEqualTo(PowerState.OFF);
            rf.powerOn();
            assertThat(m1.powerState()).isEqualTo(PowerState.ON);
            long firstPid = m1.pid().orElseThrow();
            rf.bootOnceFromNetwork();
            assertThat(rf.system().path("Boot").path("BootSourceOverrideTarget").asText())
                    .isEqualTo("Pxe");
            rf.powerCycle();
            long secondPid = m1.pid().orElseThrow();
            assertThat(secondPid).isNotEqualTo(firstPid);
            assertThat(ProcessHandle.of(secondPid)
                            .orElseThrow()
                            .info()
                            .arguments()
                            .orElseThrow())
                    .containsSequence("-boot", "once=n");
            assertThat(rf.system()
                            .path("Boot")
                            .path("BootSourceOverrideEnabled")
                            .asText())
                    .isEqualTo("Disabled");
            rf.powerOff();
            assertThat(m1.powerState()).isEqualTo(PowerState.OFF);
        }
    }

    @Test
    void aWrongPasswordAnUntrustedCertificateAndAnUnreachableBmcAreClearErrors() throws Exception {
        assertThatThrownBy(() ->
                        new RedfishMachine(endpoint("m1", Secret.of("guess", "env M1_BMC"), cert.caFile())).powerOn())
                .isInstanceOfSatisfying(
                        BmcException.class, e -> assertThat(e.kind()).isEqualTo(BmcException.Kind.AUTH))
                .hasMessageStartingWith("node m1, BMC " + service.url() + ": login as 'admin' refused (HTTP 401")
                .hasMessageNotContaining("guess");
        assertThat(m1.powerState()).isEqualTo(PowerState.OFF);

        // No caFile: the JDK's CAs do not know the lab's certificate.
        assertThatThrownBy(() -> new RedfishMachine(endpoint("m1", password, null)).powerState())
                .hasMessageContaining("node m1")
                .hasMessageContaining("certificate is not trusted");

        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        BmcEndpoint gone = new BmcEndpoint(
                "w7",
                "https://127.0.0.1:" + port,
                "admin",
                password,
                null,
                null,
                false,
                false,
                Duration.ofSeconds(1),
                null);
        assertThatThrownBy(() -> new RedfishMachine(gone).powerState())
                .isInstanceOfSatisfying(
                        BmcException.class, e -> assertThat(e.kind()).isEqualTo(BmcException.Kind.UNREACHABLE))
                .hasMessageStartingWith("node w7, BMC https://127.0.0.1:" + port + ": ");
    }

    @Test
    void redfishtoolListsSystemsReadsPowerAndBootOverrideAndResets() throws Exception {
        String host = service.url().substring("https://".length());
        List<String> base = List.of(
                "redfishtool", "-r", host, "-u", "admin", "-p", password.reveal(), "-S", "Always", "-A", "Session");
        String systems = redfishtool(base, "Systems");
        assertThat(systems).contains("/redfish/v1/Systems/m1").contains("/redfish/v1/Systems/w1");
        assertThat(redfishtool(base, "-I", "m1", "-P", "PowerState", "Systems", "get"))
                .contains("Off");
        redfishtool(base, "-I", "m1", "Systems", "setBootOverride", "Once", "Pxe");
        assertThat(lab1.override()).isEqualTo(LabMachine.BootOverride.PXE);
        assertThat(redfishtool(base, "-I", "m1", "-P", "Boot", "Systems", "get"))
                .contains("\"Pxe\"")
                .contains("\"Once\"");
        redfishtool(base, "-I", "m1", "Systems", "reset", "On");
        assertThat(m1.powerState()).isEqualTo(PowerState.ON);
        assertThat(redfishtool(base, "-I", "m1", "-P", "PowerState", "Systems", "get"))
                .contains("On");
    }

    private static String redfishtool(List<String> base, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(base);
        cmd.addAll(List.of(args));
        Exec.Result r = Exec.of(cmd).runAllowingFailure();
        assertThat(r.exitCode())
                .as("redfishtool %s: %s", String.join(" ", args), r.output())
                .isZero();
        return r.output();
    }

    @Test
    void python3SushyListsSystemsReadsPowerAndBootOverrideAndResets() throws Exception {
        String script = """
                import os, sushy
                s = sushy.Sushy(os.environ['URL'] + '/redfish/v1', username='admin', password=os.environ['PW'],
                                verify=os.environ['CA'])
                print('members', sorted(s.get_system_collection().members_identities))
                m1 = s.get_system('/redfish/v1/Systems/m1')
                print('power', m1.power_state)
                m1.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, enabled=sushy.BOOT_SOURCE_ENABLED_ONCE)
                m1.refresh()
                print('boot', m1.boot.target, m1.boot.enabled)
                print('allowed', sorted(str(v) for v in m1.get_allowed_reset_system_values()))
                m1.reset_system(sushy.RESET_TYPE_ON)
                m1.refresh()
                print('power', m1.power_state)
                """;
        Exec.Result r = Exec.of("/usr/bin/python3", "-c", script)
                .env("URL", service.url())
                .env("PW", password.reveal())
                .env("CA", cert.caFile().toString())
                // requests lets these override sushy's verify=; a host that sets them gets
                // the lab's CA.
                .env("REQUESTS_CA_BUNDLE", cert.caFile().toString())
                .env("CURL_CA_BUNDLE", cert.caFile().toString())
                .runAllowingFailure();
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output())
                .contains("members ['/redfish/v1/Systems/m1', '/redfish/v1/Systems/w1']")
                .contains("power PowerState.OFF")
                .contains("boot BootSource.PXE BootSourceOverrideEnabled.ONCE")
                .contains(
                        "allowed ['ResetType.FORCE_OFF', 'ResetType.FORCE_RESTART', 'ResetType.ON', 'ResetType.POWER_CYCLE']")
                .contains("power PowerState.ON");
        assertThat(m1.powerState()).isEqualTo(PowerState.ON);
    }
}
