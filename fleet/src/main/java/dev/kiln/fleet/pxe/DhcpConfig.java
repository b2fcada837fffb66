package dev.kiln.fleet.pxe;

import java.util.Locale;

/**
 * What a DHCP server must tell each kind of boot client so that it ends in kiln's iPXE script,
 * written for dnsmasq (which kiln runs itself with --pxe), ISC dhcpd and Kea (for sites that keep
 * their own DHCP server). The chain a real server goes through: firmware PXE (DHCP, then TFTP
 * {@link FirmwareBinaries#BIOS} or {@link FirmwareBinaries#UEFI} by client architecture, option 93)
 * → iPXE → DHCP again, now with user class "iPXE" (option 77) and option 175 → {@code
 * BASE/boot.ipxe}. UEFI HTTP Boot clients (vendor class "HTTPClient", arch 16) get {@code
 * BASE/ipxe/ipxe.efi} instead and skip TFTP.
 *
 * @param mode proxy: answer only the PXE part next to the site's DHCP server; dhcp: also hand out
 *     addresses (an isolated provisioning network)
 * @param iface the interface on the boot network
 * @param serverIp this host's address on it (TFTP and next-server)
 * @param network the boot network's address, e.g. 10.0.0.0 (proxy mode's dhcp-range)
 * @param netmask e.g. 255.255.255.0
 * @param rangeStart first address handed out (dhcp mode only)
 * @param rangeEnd last address handed out (dhcp mode only)
 * @param baseUrl kiln serve as nodes reach it, e.g. http://10.0.0.2:8080
 */
public record DhcpConfig(
        Mode mode,
        String iface,
        String serverIp,
        String network,
        String netmask,
        String rangeStart,
        String rangeEnd,
        String baseUrl) {
    public enum Mode {
        PROXY,
        DHCP;

        public static Mode parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "proxy" -> PROXY;
                case "dhcp" -> DHCP;
                default -> throw new IllegalArgumentException("--pxe: expected proxy, dhcp or off, got '" + s + "'");
            };
        }
    }

    public DhcpConfig {
        if (mode == Mode.DHCP && (rangeStart == null || rangeEnd == null)) {
            throw new IllegalArgumentException("--pxe dhcp hands out addresses: --dhcp-range START,END is required");
        }
        baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    }

    String script() {
        return baseUrl + "/boot.ipxe";
    }

    String httpBootUrl() {
        return baseUrl + "/ipxe/" + FirmwareBinaries.UEFI_HTTP;
    }

    /**
     * dnsmasq's configuration: DHCP (proxy or not) and TFTP of the iPXE binaries, no DNS. {@code
     * runDir} holds its lease file.
     */
    public String dnsmasq(String tftpRoot, String leaseFile) {
        StringBuilder c = new StringBuilder();
        c.append("# kiln serve --pxe ")
                .append(mode.name().toLowerCase(Locale.ROOT))
                .append(": generated, do not edit\n")
                .append("port=0\n")
                .append("interface=")
                .append(iface)
                .append('\n')
                .append("bind-interfaces\n")
                .append("log-dhcp\n")
                .append("enable-tftp\n")
                .append("tftp-root=")
                .append(tftpRoot)
                .append('\n')
                .append("dhcp-leasefile=")
                .append(leaseFile)
                .append('\n')
                // Tell firmware to download the boot file at once instead of PXE boot-server
                // discovery.
                .append("dhcp-option=vendor:PXEClient,6,2b\n")
                // iPXE identifies itself both ways; older builds only with option 175.
                .append("dhcp-userclass=set:ipxe,iPXE\n")
                .append("dhcp-match=set:ipxe,175\n")
                .append("dhcp-vendorclass=set:httpclient,HTTPClient\n");
        if (mode == Mode.PROXY) {
            // Only the PXE part: the site's server hands out the address. pxe-service is how
            // dnsmasq answers in proxy mode; a basename with a '.' is sent as is.
            c.append("dhcp-range=")
                    .append(network)
                    .append(",proxy,")
                    .append(netmask)
                    .append('\n');
            for (String csa : new String[] {"x86PC", "BC_EFI", "X86-64_EFI"}) {
                String firmwareFile = csa.equals("x86PC") ? FirmwareBinaries.BIOS : FirmwareBinaries.UEFI;
                c.append("pxe-service=tag:!ipxe,")
                        .append(csa)
                        .append(",\"kiln: iPXE\",")
                        .append(firmwareFile)
                        .append('\n');
                c.append("pxe-service=tag:ipxe,")
                        .append(csa)
                        .append(",\"kiln\",")
                        .append(script())
                        .append('\n');
            }
        } else {
            c.append("dhcp-range=")
                    .append(rangeStart)
                    .append(',')
                    .append(rangeEnd)
                    .append(',')
                    .append(netmask)
                    .append(",1h\n")
                    .append("dhcp-match=set:bios,option:client-arch,0\n")
                    .append("dhcp-match=set:efi64,option:client-arch,7\n")
                    .append("dhcp-match=set:efi64,option:client-arch,9\n")
                    .append("dhcp-boot=tag:ipxe,")
                    .append(script())
                    .append('\n')
                    .append("dhcp-boot=tag:!ipxe,tag:httpclient,")
                    .append(httpBootUrl())
                    .append('\n')
                    // An HTTP Boot client only takes an offer that echoes its vendor class.
                    .append("dhcp-option-force=tag:httpclient,60,HTTPClient\n")
                    .append("dhcp-boot=tag:!ipxe,tag:efi64,")
                    .append(FirmwareBinaries.UEFI)
                    .append(",,")
                    .append(serverIp)
                    .append('\n')
                    .append("dhcp-boot=tag:!ipxe,tag:bios,")
                    .append(FirmwareBinaries.BIOS)
                    .append(",,")
                    .append(serverIp)
                    .append('\n');
        }
        return c.toString();
    }

    /** The snippet for a site that keeps its own DHCP server: dnsmasq, isc or kea. */
    public String snippet(String server) {
        return switch (server) {
            case "dnsmasq" ->
                "# Add to the site's dnsmasq (its dhcp-range stays as it is); TFTP: kiln serve --pxe, or\n"
                        + "# enable-tftp + tftp-root="
                        + FirmwareBinaries.dir()
                        + " here.\n"
                        + "dhcp-userclass=set:ipxe,iPXE\n"
                        + "dhcp-match=set:ipxe,175\n"
                        + "dhcp-vendorclass=set:httpclient,HTTPClient\n"
                        + "dhcp-match=set:bios,option:client-arch,0\n"
                        + "dhcp-match=set:efi64,option:client-arch,7\n"
                        + "dhcp-match=set:efi64,option:client-arch,9\n"
                        + "dhcp-boot=tag:ipxe,"
                        + script()
                        + "\n"
                        + "dhcp-boot=tag:!ipxe,tag:httpclient,"
                        + httpBootUrl()
                        + "\n"
                        + "dhcp-option-force=tag:httpclient,60,HTTPClient\n"
                        + "dhcp-boot=tag:!ipxe,tag:efi64,"
                        + FirmwareBinaries.UEFI
                        + ",,"
                        + serverIp
                        + "\n"
                        + "dhcp-boot=tag:!ipxe,tag:bios,"
                        + FirmwareBinaries.BIOS
                        + ",,"
                        + serverIp
                        + "\n";
            case "isc" ->
                "# ISC dhcpd: inside the boot network's subnet { } block.\n"
                        + "option arch code 93 = unsigned integer 16;\n"
                        + "next-server "
                        + serverIp
                        + ";\n"
                        + "if exists user-class and option user-class = \"iPXE\" {\n"
                        + "  filename \""
                        + script()
                        + "\";\n"
                        + "} elsif substring(option vendor-class-identifier, 0, 10) = \"HTTPClient\" {\n"
                        + "  option vendor-class-identifier \"HTTPClient\";\n"
                        + "  filename \""
                        + httpBootUrl()
                        + "\";\n"
                        + "} elsif option arch = 00:07 or option arch = 00:09 {\n"
                        + "  filename \""
                        + FirmwareBinaries.UEFI
                        + "\";\n"
                        + "} else {\n"
                        + "  filename \""
                        + FirmwareBinaries.BIOS
                        + "\";\n"
                        + "}\n";
            case "kea" ->
                "// Kea DHCPv4: add to \"Dhcp4\" (client classes are tested in order, first match wins).\n"
                        + "\"client-classes\": [\n"
                        + "  {\"name\": \"ipxe\", \"test\": \"option[77].hex == 'iPXE'\",\n"
                        + "   \"boot-file-name\": \""
                        + script()
                        + "\"},\n"
                        + "  {\"name\": \"uefi-http\", \"test\": \"substring(option[60].hex,0,10) == 'HTTPClient'\",\n"
                        + "   \"option-data\": [{\"name\": \"vendor-class-identifier\", \"data\": \"HTTPClient\"}],\n"
                        + "   \"boot-file-name\": \""
                        + httpBootUrl()
                        + "\"},\n"
                        + "  {\"name\": \"uefi\", \"test\": \"option[93].hex == 0x0007 or option[93].hex == 0x0009\",\n"
                        + "   \"next-server\": \""
                        + serverIp
                        + "\", \"boot-file-name\": \""
                        + FirmwareBinaries.UEFI
                        + "\"},\n"
                        + "  {\"name\": \"bios\", \"test\": \"option[93].hex == 0x0000\",\n"
                        + "   \"next-server\": \""
                        + serverIp
                        + "\", \"boot-file-name\": \""
                        + FirmwareBinaries.BIOS
                        + "\"}\n"
                        + "]\n";
            default ->
                throw new IllegalArgumentException(
                        "--print-dhcp-config: expected dnsmasq, isc or kea, got '" + server + "'");
        };
    }
}
