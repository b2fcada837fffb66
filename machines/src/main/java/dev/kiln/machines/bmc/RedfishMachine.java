package dev.kiln.machines.bmc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.core.json.Json;
import dev.kiln.machines.Machine;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A machine behind a Redfish BMC (JDK HttpClient + Jackson). Power goes through
 * ComputerSystem.Reset with a ResetType the system lists among its allowable values; a boot
 * override is PATCHed (If-Match when the BMC gives an ETag) and read back, because BMCs are known
 * to answer 200 and keep nothing. A 202 answer's task monitor is polled until it is done.
 */
public final class RedfishMachine implements Machine {
    private final BmcEndpoint bmc;
    private RedfishClient client;
    private String systemPath;

    public RedfishMachine(BmcEndpoint bmc) {
        this.bmc = bmc;
    }

    @Override
    public String name() {
        return bmc.node();
    }

    /** Logs in and finds the system once; later calls reuse the session. */
    private synchronized RedfishClient client() throws IOException, InterruptedException {
        if (client == null) {
            RedfishClient c = new RedfishClient(bmc);
            c.login();
            try {
                systemPath = findSystem(c);
            } catch (IOException | RuntimeException e) {
                c.close();
                throw e;
            }
            client = c;
        }
        return client;
    }

    private String findSystem(RedfishClient c) throws IOException, InterruptedException {
        JsonNode members = c.get("/redfish/v1/Systems").body().path("Members");
        List<String> paths = new ArrayList<>();
        members.forEach(m -> paths.add(m.path("@odata.id").asText()));
        if (bmc.systemId() != null) {
            for (String p : paths) {
                if (p.replaceAll("/+$", "").endsWith("/" + bmc.systemId())) {
                    return p;
                }
            }
            throw new BmcException(
                    bmc, BmcException.Kind.REFUSED, "has no system '" + bmc.systemId() + "'; it lists " + paths);
        }
        if (paths.size() != 1) {
            throw new BmcException(
                    bmc,
                    BmcException.Kind.REFUSED,
                    "lists " + paths.size() + " systems " + paths + "; say which with systemId");
        }
        return paths.get(0);
    }

    /** The ComputerSystem resource as the BMC has it now. */
    public JsonNode system() throws IOException, InterruptedException {
        RedfishClient c = client();
        return c.get(systemPath).body();
    }

    @Override
    public PowerState powerState() throws IOException, InterruptedException {
        String s = system().path("PowerState").asText("");
        return switch (s) {
            case "On", "PoweringOff" -> PowerState.ON;
            case "Off", "PoweringOn" -> PowerState.OFF;
            default -> PowerState.UNKNOWN;
        };
    }

    @Override
    public void powerOn() throws IOException, InterruptedException {
        reset(List.of("On", "ForceOn"));
    }

    @Override
    public void powerOff() throws IOException, InterruptedException {
        reset(List.of("ForceOff"));
    }

    @Override
    public void powerCycle() throws IOException, InterruptedException {
        if (powerState() == PowerState.OFF) {
            powerOn();
            return;
        }
        reset(List.of("PowerCycle", "ForceRestart"));
    }

    /** ComputerSystem.Reset with the first of {@code wanted} the system allows. */
    private void reset(List<String> wanted) throws IOException, InterruptedException {
        RedfishClient c = client();
        JsonNode action = c.get(systemPath).body().path("Actions").path("#ComputerSystem.Reset");
        String target = action.path("target").asText(systemPath + "/Actions/ComputerSystem.Reset");
        List<String> allowed = new ArrayList<>();
        action.path("ResetType@Redfish.AllowableValues").forEach(v -> allowed.add(v.asText()));
        String type = allowed.isEmpty()
                ? wanted.get(0)
                : wanted.stream()
                        .filter(allowed::contains)
                        .findFirst()
                        .orElseThrow(() -> new BmcException(
                                bmc, BmcException.Kind.REFUSED, "allows ResetType " + allowed + ", none of " + wanted));
        ObjectNode body = Json.MAPPER.createObjectNode().put("ResetType", type);
        RedfishClient.Response r =
                c.check("POST " + target + " (ResetType " + type + ")", c.send("POST", target, body, null, true));
        if (r.status() == 202) {
            awaitTask(c, r);
        }
    }

    /** Polls a 202's task monitor until it stops answering 202, within a bound. */
    private void awaitTask(RedfishClient c, RedfishClient.Response accepted) throws IOException, InterruptedException {
        String monitor = accepted.location().orElse(null);
        if (monitor == null) {
            return;
        }
        long deadline = System.nanoTime() + bmc.timeout().toNanos() * 6;
        while (System.nanoTime() < deadline) {
            RedfishClient.Response r = c.send("GET", monitor, null, null, true);
            if (r.status() != 202) {
                String state = r.body().path("TaskState").asText("");
                if (r.status() / 100 != 2 || state.equals("Exception") || state.equals("Killed")) {
                    throw c.refused("task " + monitor + " (" + state + ")", r);
                }
                return;
            }
            Thread.sleep(1000);
        }
        throw new BmcException(
                bmc,
                BmcException.Kind.UNREACHABLE,
                "task " + monitor + " still running after " + bmc.timeout().toSeconds() * 6 + " s");
    }

    /** PXE for the next boot only, with If-Match when the BMC gives an ETag; then read back. */
    @Override
    public void bootOnceFromNetwork() throws IOException, InterruptedException {
        RedfishClient c = client();
        RedfishClient.Response current = c.get(systemPath);
        ObjectNode boot = Json.MAPPER
                .createObjectNode()
                .put("BootSourceOverrideTarget", "Pxe")
                .put("BootSourceOverrideEnabled", "Once");
        if (current.body().path("Boot").has("BootSourceOverrideMode")) {
            boot.put("BootSourceOverrideMode", bmc.uefi() ? "UEFI" : "Legacy");
        }
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.set("Boot", boot);
        c.check(
                "PATCH " + systemPath + " (boot override Pxe, Once)",
                c.send("PATCH", systemPath, body, current.etag().orElse(null), true));
        JsonNode after = c.get(systemPath).body().path("Boot");
        if (!"Pxe".equals(after.path("BootSourceOverrideTarget").asText())
                || !"Once".equals(after.path("BootSourceOverrideEnabled").asText())) {
            throw new BmcException(
                    bmc,
                    BmcException.Kind.REFUSED,
                    "accepted the boot override but did not keep it:"
                            + " reading it back gives BootSourceOverrideTarget="
                            + after.path("BootSourceOverrideTarget").asText()
                            + ", BootSourceOverrideEnabled="
                            + after.path("BootSourceOverrideEnabled").asText());
        }
    }

    @Override
    public String consoleTail(int lines) {
        return "(no console: node " + bmc.node() + " is reached through its Redfish BMC " + bmc.address() + ")";
    }

    /** Logs out. */
    @Override
    public synchronized void close() {
        if (client != null) {
            client.close();
            client = null;
        }
    }
}
