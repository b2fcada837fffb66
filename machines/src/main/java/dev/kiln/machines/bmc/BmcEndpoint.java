package dev.kiln.machines.bmc;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Where a node's BMC is and how to log in.
 *
 * @param node the node's name, for messages
 * @param address ipmi: HOST or HOST:PORT; redfish: http(s)://HOST[:PORT]
 * @param systemId redfish: the ComputerSystem's id; null = the only one the BMC lists
 * @param caFile redfish over https: the CA that signed the BMC's certificate; null = the JDK's
 * @param insecure redfish over https: do not verify the certificate (must be asked for)
 * @param uefi the machine boots UEFI: network boot is asked for in UEFI mode
 * @param timeout for one request; retries and backoff come on top, bounded
 * @param cipherSuite ipmi: the RMCP+ cipher suite to open sessions with (ipmitool -C); null = ask
 *     the BMC first (Get Channel Cipher Suites), which costs a whole timeout on a BMC that does not
 *     answer that command
 */
public record BmcEndpoint(
        String node,
        String address,
        String user,
        Secret password,
        String systemId,
        Path caFile,
        boolean insecure,
        boolean uefi,
        Duration timeout,
        Integer cipherSuite) {
    public BmcEndpoint {
        Objects.requireNonNull(node);
        Objects.requireNonNull(address);
        timeout = timeout == null ? Duration.ofSeconds(10) : timeout;
    }

    /** "node m1, BMC 10.0.9.11:623": how every error of a driver begins. */
    public String who() {
        return "node " + node + ", BMC " + address;
    }
}
