package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.builder.TestImages;
import dev.kiln.core.store.Manifest;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The boot chain of a real server, end to end: a UEFI machine (OVMF) whose NIC has no iPXE option
 * ROM, on a network whose DHCP server hands out addresses and nothing else, beside kiln's
 * ProxyDHCP. Its firmware PXE gets snponly.efi over TFTP from kiln, that iPXE gets boot.ipxe from
 * kiln's ProxyDHCP, and the node boots the image and phones home.
 */
@Tag("vm")
class ValidateFirmwarePxeTest {
    @TempDir
    Path tmp;

    @Test
    void firmwarePxeThroughKilnsProxyDhcpBootsTheImage() throws Exception {
        Manifest m = TestImages.debianNode();
        ValidationRun run = ValidationRun.of(m, "qemu-pxe", 1, 0, Duration.ofSeconds(600), tmp, null, true);
        run.assertValidated("pass");
        // kiln, not the site's DHCP server, handed the firmware its iPXE: dnsmasq's own TFTP line.
        assertThat(run.output())
                .as(run.printed())
                .anySatisfy(l -> assertThat(l)
                        .contains("kiln ProxyDHCP:")
                        .contains("snponly.efi")
                        .contains("sent"));
        assertThat(run.output()).anySatisfy(l -> assertThat(l).contains("UEFI firmware PXE"));
    }
}
