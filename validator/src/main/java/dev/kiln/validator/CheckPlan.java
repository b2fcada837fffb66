package dev.kiln.validator;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.Manifest;
import dev.kiln.validator.ValidationReport.Check;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The checks a spec declares (its validation section, copied into the manifest), turned into what
 * the nodes run and back into results.
 *
 * <p>Nodes run the checks themselves (kiln-check, started by the node agent) with the expected
 * values from the manifest, and send results to kiln serve; this class adds what only a view across
 * nodes shows (a machine-id or SSH host key shared by two nodes) and what the provider cannot check
 * at all (the kernel, when nodes are containers on the host's kernel).
 */
final class CheckPlan {
    static final String KERNEL = "kernel-version";
    static final String HYGIENE = "hygiene";

    private final List<Map<String, Object>> node = new ArrayList<>();
    private final List<Map<String, Object>> cluster = new ArrayList<>();
    private final List<Check> skipped = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    /**
     * @param sharedKernel nodes run the host's kernel, so kernel checks say nothing about the image
     */
    CheckPlan(Manifest manifest, boolean sharedKernel, String provider) {
        Map<String, Object> validation = manifest.validation() == null ? Map.of() : manifest.validation();
        for (Map<String, Object> c : entries(validation.get("node"))) {
            Map<String, Object> check = new LinkedHashMap<>(c);
            String name = String.valueOf(check.get("check"));
            if (KERNEL.equals(name)) {
                if (sharedKernel) {
                    skipped.add(new Check(
                            KERNEL, Check.SKIP, "nodes are " + provider + "s running the host's kernel", null));
                    notes.add("kernel checks skipped: "
                            + provider
                            + " nodes run the host's kernel, not "
                            + manifest.kernel().release());
                    continue;
                }
                check.put("expect", manifest.kernel().release());
            } else if ("image-identity".equals(name)) {
                Map<String, Object> expect = new LinkedHashMap<>();
                expect.put("name", manifest.name());
                expect.put("version", manifest.version());
                expect.put("specSha256", manifest.specSha256());
                check.put("expect", expect);
            }
            node.add(check);
        }
        for (Map<String, Object> c : entries(validation.get("cluster"))) {
            cluster.add(new LinkedHashMap<>(c));
        }
        if (node.isEmpty() && cluster.isEmpty()) {
            notes.add("the spec declares no checks (validation section): only the bootstrap was validated");
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> entries(Object list) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (list instanceof List<?> l) {
            for (Object o : l) {
                if (o instanceof Map<?, ?> m) {
                    out.add((Map<String, Object>) m);
                }
            }
        }
        return out;
    }

    /** The metadata value "kilnChecks": what every node's kiln-check runs. */
    String metadataValue() {
        try {
            return Json.COMPACT.writeValueAsString(Map.of("node", node, "cluster", cluster));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** As {@link #metadataValue()} with no cluster checks: a node that joins a running cluster. */
    String nodeOnlyMetadataValue() {
        try {
            return Json.COMPACT.writeValueAsString(Map.of("node", node, "cluster", List.of()));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    List<String> notes() {
        return notes;
    }

    boolean hasClusterChecks() {
        return !cluster.isEmpty();
    }

    /** A node's results in plan order; a check it did not report fails, naming that. */
    List<Check> nodeResults(String nodeName, List<Map<String, Object>> reported) {
        List<Check> out = new ArrayList<>(skipped);
        out.addAll(match(node, reported, "node", nodeName));
        return out;
    }

    /** The init-master's cluster results in plan order. */
    List<Check> clusterResults(String initMaster, List<Map<String, Object>> reported) {
        return match(cluster, reported, "cluster", initMaster);
    }

    private static List<Check> match(
            List<Map<String, Object>> planned, List<Map<String, Object>> reported, String scope, String nodeName) {
        List<Check> out = new ArrayList<>();
        for (Map<String, Object> p : planned) {
            String name = String.valueOf(p.get("check"));
            Map<String, Object> r = reported == null
                    ? null
                    : reported.stream()
                            .filter(x -> name.equals(x.get("check")) && scope.equals(x.get("scope")))
                            .findFirst()
                            .orElse(null);
            if (r == null) {
                out.add(new Check(name, Check.FAIL, nodeName + " sent no result for this check", nodeName));
            } else {
                String status = String.valueOf(r.get("status"));
                out.add(new Check(
                        name,
                        Check.PASS.equals(status) ? Check.PASS : Check.FAIL,
                        String.valueOf(r.getOrDefault("detail", "")),
                        nodeName));
            }
        }
        return out;
    }

    /**
     * Hygiene across nodes: every node must have its own machine-id and SSH host keys. Returns, per
     * node name, why its hygiene check fails (no entry: nothing shared).
     */
    static Map<String, String> sharedIdentities(Map<String, List<Map<String, Object>>> reportedByNode) {
        Map<String, List<String>> byValue = new TreeMap<>();
        reportedByNode.forEach((nodeName, results) -> {
            for (Map<String, Object> r : results == null ? List.<Map<String, Object>>of() : results) {
                if (HYGIENE.equals(r.get("check")) && r.get("facts") instanceof Map<?, ?> facts) {
                    Object mid = facts.get("machineId");
                    if (mid != null && !mid.toString().isEmpty()) {
                        byValue.computeIfAbsent("machine-id " + mid, k -> new ArrayList<>())
                                .add(nodeName);
                    }
                    if (facts.get("sshHostKeys") instanceof List<?> keys) {
                        for (Object k : keys) {
                            byValue.computeIfAbsent("SSH host key sha256 " + k, x -> new ArrayList<>())
                                    .add(nodeName);
                        }
                    }
                }
            }
        });
        Map<String, String> why = new TreeMap<>();
        byValue.forEach((value, nodes) -> {
            java.util.Collections.sort(nodes);
            if (nodes.size() > 1) {
                for (String n : nodes) {
                    why.merge(
                            n,
                            value
                                    + " is shared by "
                                    + String.join(", ", nodes)
                                    + " (baked into the image instead of made at first boot)",
                            (a, b) -> a + "; " + b);
                }
            }
        });
        return why;
    }
}
