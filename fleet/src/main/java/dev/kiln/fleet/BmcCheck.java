package dev.kiln.fleet;

import java.util.function.BiConsumer;
import java.util.regex.Pattern;

/**
 * What the inventory loader checks of a node's {@code bmc:} entry. The password is never in the
 * inventory: a {@code password} field is refused with where it goes instead, and its value is never
 * repeated in the message.
 */
final class BmcCheck {
    /** HOST or HOST:PORT (ipmi); a host name, IPv4, or [IPv6]. */
    private static final Pattern HOST_PORT =
            Pattern.compile("(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9][A-Za-z0-9.-]*)(:\\d{1,5})?");

    private static final Pattern URL = Pattern.compile("https?://" + HOST_PORT.pattern() + "/?");
    private static final Pattern ENV = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    private BmcCheck() {}

    static void check(String field, String who, Inventory.Bmc bmc, BiConsumer<String, String> problem) {
        if (bmc == null) {
            return;
        }
        if (bmc.password() != null) {
            problem.accept(
                    field + ".password",
                    who
                            + ": a BMC password is not accepted in the inventory (it would end up"
                            + " in every copy of the file); put it in a file readable only by kiln (passwordFile: PATH, mode 0600)"
                            + " or in an environment variable of kiln (passwordEnv: NAME)");
        }
        String driver = bmc.driver();
        if (driver == null) {
            problem.accept(field + ".driver", "missing required field (ipmi, redfish or manual)");
            return;
        }
        switch (driver) {
            case "manual" -> {
                return;
            }
            case "ipmi" -> {
                if (bmc.address() != null && !HOST_PORT.matcher(bmc.address()).matches()) {
                    problem.accept(field + ".address", who + ": '" + bmc.address() + "' is not HOST or HOST:PORT");
                }
                if (bmc.caFile() != null || bmc.insecure() != null || bmc.systemId() != null) {
                    problem.accept(
                            field,
                            who
                                    + ": caFile, insecure and systemId are Redfish settings; driver ipmi takes"
                                    + " address, user and passwordFile or passwordEnv");
                }
                if (bmc.cipherSuite() != null && (bmc.cipherSuite() < 0 || bmc.cipherSuite() > 17)) {
                    problem.accept(
                            field + ".cipherSuite",
                            who + ": expected an IPMI 2.0 cipher suite id from 0 to 17 (ipmitool -C), got "
                                    + bmc.cipherSuite());
                }
            }
            case "redfish" -> {
                if (bmc.address() != null && !URL.matcher(bmc.address()).matches()) {
                    problem.accept(
                            field + ".address",
                            who + ": '" + bmc.address() + "' is not a URL like https://HOST[:PORT]");
                }
                if (bmc.cipherSuite() != null) {
                    problem.accept(field + ".cipherSuite", who + ": cipherSuite is an ipmi setting; redfish has none");
                }
                if (Boolean.TRUE.equals(bmc.insecure()) && bmc.caFile() != null) {
                    problem.accept(
                            field + ".insecure",
                            who
                                    + ": insecure: true skips the certificate check that caFile is for;"
                                    + " give one of them");
                }
            }
            default -> {
                problem.accept(
                        field + ".driver", who + ": expected driver ipmi, redfish or manual, got '" + driver + "'");
                return;
            }
        }
        if (bmc.address() == null) {
            problem.accept(field + ".address", "missing required field");
        }
        if (bmc.user() == null) {
            problem.accept(field + ".user", "missing required field");
        }
        if ((bmc.passwordFile() == null) == (bmc.passwordEnv() == null)) {
            problem.accept(
                    field,
                    who
                            + ": expected one of passwordFile (a file holding the BMC password) or passwordEnv"
                            + " (an environment variable holding it)");
        }
        if (bmc.passwordEnv() != null && !ENV.matcher(bmc.passwordEnv()).matches()) {
            problem.accept(
                    field + ".passwordEnv", who + ": '" + bmc.passwordEnv() + "' is not an environment variable name");
        }
    }
}
