package dev.kiln.fleet.pxe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.exec.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DHCP rules kiln generates are accepted by dnsmasq itself (its --test parses the file as it
 * would at start) and send each kind of client where it must go.
 */
class DhcpConfigTest {
    @TempDir
    Path tmp;

    static DhcpConfig config(DhcpConfig.Mode mode) {
        return new DhcpConfig(
                mode,
                "eno1",
                "10.0.0.2",
                "10.0.0.0",
                "255.255.255.0",
                mode == DhcpConfig.Mode.DHCP ? "10.0.0.100" : null,
                mode == DhcpConfig.Mode.DHCP ? "10.0.0.200" : null,
                "http://10.0.0.2:8080/");
    }

    @Test
    void proxyModeAnswersOnlyThePxePartAndDnsmasqAcceptsIt() throws Exception {
        String conf = config(DhcpConfig.Mode.PROXY)
                .dnsmasq("/usr/lib/ipxe", tmp.resolve("leases").toString());
        assertThat(conf)
                .contains("dhcp-range=10.0.0.0,proxy,255.255.255.0")
                .contains("pxe-service=tag:!ipxe,x86PC,\"kiln: iPXE\",undionly.kpxe")
                .contains("pxe-service=tag:!ipxe,BC_EFI,\"kiln: iPXE\",snponly.efi")
                .contains("pxe-service=tag:ipxe,X86-64_EFI,\"kiln\",http://10.0.0.2:8080/boot.ipxe")
                .doesNotContain("dhcp-boot=");
        // Proxy mode never hands out an address: no range with start and end, no static hosts.
        assertThat(conf.lines().filter(l -> l.startsWith("dhcp-range=") || l.startsWith("dhcp-host=")))
                .containsExactly("dhcp-range=10.0.0.0,proxy,255.255.255.0");
        dnsmasqAccepts(conf);
    }

    @Test
    void dhcpModeHandsOutAddressesAndBootFilesByArchitecture() throws Exception {
        String conf = config(DhcpConfig.Mode.DHCP)
                .dnsmasq("/usr/lib/ipxe", tmp.resolve("leases").toString());
        assertThat(conf)
                .contains("dhcp-range=10.0.0.100,10.0.0.200,255.255.255.0,1h")
                .contains("dhcp-boot=tag:ipxe,http://10.0.0.2:8080/boot.ipxe")
                .contains("dhcp-boot=tag:!ipxe,tag:httpclient,http://10.0.0.2:8080/ipxe/ipxe.efi")
                .contains("dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi,,10.0.0.2")
                .contains("dhcp-boot=tag:!ipxe,tag:bios,undionly.kpxe,,10.0.0.2");
        dnsmasqAccepts(conf);
    }

    @Test
    void dhcpModeNeedsARange() {
        assertThatThrownBy(() -> new DhcpConfig(
                        DhcpConfig.Mode.DHCP,
                        "eno1",
                        "10.0.0.2",
                        "10.0.0.0",
                        "255.255.255.0",
                        null,
                        null,
                        "http://10.0.0.2:8080"))
                .hasMessageContaining("--dhcp-range START,END is required");
        assertThatThrownBy(() -> DhcpConfig.Mode.parse("maybe")).hasMessageContaining("expected proxy, dhcp or off");
    }

    @Test
    void snippetsForTheSitesOwnServer() throws Exception {
        DhcpConfig c = config(DhcpConfig.Mode.PROXY);
        String dnsmasq = c.snippet("dnsmasq");
        // The site's snippet goes next to its own range: dnsmasq accepts the two together.
        dnsmasqAccepts("port=0\ndhcp-range=10.0.0.100,10.0.0.200,1h\n" + dnsmasq);
        assertThat(c.snippet("isc"))
                .contains(
                        "option user-class = \"iPXE\"",
                        "filename \"http://10.0.0.2:8080/boot.ipxe\"",
                        "next-server 10.0.0.2;",
                        "filename \"snponly.efi\"",
                        "filename \"undionly.kpxe\"");
        assertThat(c.snippet("kea"))
                .contains("\"boot-file-name\": \"http://10.0.0.2:8080/boot.ipxe\"", "option[93].hex == 0x0007");
        assertThatThrownBy(() -> c.snippet("windows")).hasMessageContaining("expected dnsmasq, isc or kea");
    }

    private void dnsmasqAccepts(String conf) throws Exception {
        Path f = tmp.resolve("dnsmasq-" + System.nanoTime() + ".conf");
        Files.writeString(f, conf);
        Exec.Result r =
                Exec.of(PxeService.dnsmasq(), "--test", "--conf-file=" + f).runAllowingFailure();
        assertThat(r.exitCode())
                .as("dnsmasq --test:\n" + r.output() + "\n" + conf)
                .isZero();
        assertThat(r.output()).contains("syntax check OK");
    }
}
