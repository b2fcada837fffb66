package dev.kiln.release;

import dev.kiln.core.json.Json;
import dev.kiln.core.node.ProviderKind;
import dev.kiln.core.yaml.YamlErrors;
import dev.kiln.core.yaml.YamlLocations;
import dev.kiln.core.yaml.YamlProblem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and checks an environments file, strictly like the spec and inventory loaders: YAML
 * mistakes, unknown fields (a misspelled gate) and wrong types fail at file:line:column with the
 * field path and what was expected, then what binding cannot check (names, 'from', gate values).
 * Every problem is reported at once.
 */
public final class EnvironmentsLoader {
    /** The providers kiln validate has. */
    static final List<String> PROVIDERS = ProviderKind.wireNames();

    private static final String NAME = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";

    private EnvironmentsLoader() {}

    /**
     * The file as written. Required fields are checked after binding, so a misspelling reads as
     * unknown.
     */
    record Document(List<Env> environments) {}

    record Env(String name, String from, List<GateDoc> gates) {}

    /** One gate item: exactly one of these is set. */
    record GateDoc(ValidatedDoc validated, String soak, Integer approvals, String window) {}

    record ValidatedDoc(String provider, Integer masters, Integer workers) {}

    /** $KILN_ENVIRONMENTS, else environments.yaml in the current directory. */
    public static Path defaultFile() {
        String env = System.getenv("KILN_ENVIRONMENTS");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of("environments.yaml");
    }

    public static Environments load(Path file) throws EnvironmentsException, IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new EnvironmentsException(List.of(new YamlProblem(
                    file,
                    0,
                    0,
                    null,
                    "environments file not found (--environments FILE or $KILN_ENVIRONMENTS names it; examples/environments.yaml"
                            + " is one to copy)")));
        }
        return parse(file, text);
    }

    public static Environments parse(Path file, String text) throws EnvironmentsException {
        if (text.lines().allMatch(l -> l.isBlank() || l.trim().startsWith("#"))) {
            throw empty(file);
        }
        YamlLocations locations;
        Document doc;
        try {
            doc = Json.STRICT_YAML.readValue(text, Document.class);
            locations = YamlLocations.index(text);
        } catch (IOException e) {
            YamlLocations loc = null;
            try {
                loc = YamlLocations.index(text);
            } catch (IOException syntax) {
                // keep the parser's own location
            }
            throw new EnvironmentsException(List.of(YamlErrors.fromJackson(file, e, loc)));
        }
        if (doc == null) {
            throw empty(file);
        }
        YamlErrors.Located at = new YamlErrors.Located(file, locations);
        List<YamlProblem> problems = new ArrayList<>();
        List<Environments.Environment> envs = new ArrayList<>();
        if (doc.environments() == null || doc.environments().isEmpty()) {
            problems.add(at.at("environments", "expected a list of environments (name, from, gates)"));
            throw new EnvironmentsException(problems);
        }
        Map<String, String> seen = new java.util.LinkedHashMap<>();
        for (int i = 0; i < doc.environments().size(); i++) {
            Env e = doc.environments().get(i);
            String p = "environments[" + i + "]";
            if (e == null) {
                problems.add(at.at(p, "expected an environment (name, from, gates)"));
                continue;
            }
            int before = problems.size();
            if (e.from() != null && e.from().equals(e.name())) {
                problems.add(at.at(p + ".from", "an environment cannot come from itself"));
            } else if (e.from() != null && !seen.containsKey(e.from())) {
                problems.add(at.at(
                        p + ".from",
                        "'"
                                + e.from()
                                + "' is not an environment defined above this one"
                                + " (environments are listed in promotion order; defined so far: "
                                + (seen.isEmpty() ? "none" : String.join(", ", seen.keySet()))
                                + ")"));
            }
            if (e.name() == null) {
                problems.add(at.at(p + ".name", "missing required field"));
            } else if (!e.name().matches(NAME)) {
                problems.add(at.at(
                        p + ".name",
                        "'"
                                + e.name()
                                + "' is not a valid environment name (lower-case letters, digits"
                                + " and '-', like prod)"));
            } else if (seen.putIfAbsent(e.name(), p) != null) {
                problems.add(at.at(
                        p + ".name", "environment '" + e.name() + "' is already defined at " + seen.get(e.name())));
            }
            List<Environments.Gate> gates = new ArrayList<>();
            Set<String> kinds = new HashSet<>();
            List<GateDoc> docs = e.gates() == null ? List.of() : e.gates();
            for (int g = 0; g < docs.size(); g++) {
                String gp = p + ".gates[" + g + "]";
                Environments.Gate gate = gate(docs.get(g), gp, e.from() != null, at, problems);
                if (gate != null && !kinds.add(gate.name())) {
                    problems.add(
                            at.at(gp, "a second '" + gate.name() + "' gate; each gate appears once per environment"));
                } else if (gate != null) {
                    gates.add(gate);
                }
            }
            if (problems.size() == before) {
                envs.add(new Environments.Environment(e.name(), e.from(), List.copyOf(gates)));
            }
        }
        if (!problems.isEmpty()) {
            throw new EnvironmentsException(problems);
        }
        return new Environments(file, List.copyOf(envs));
    }

    private static Environments.Gate gate(
            GateDoc g, String gp, boolean hasFrom, YamlErrors.Located at, List<YamlProblem> problems) {
        String expected = "expected one gate: validated: {provider, masters, workers}, soak: DURATION, approvals: N"
                + " or window: \"DAYS HH:MM-HH:MM ZONE\"";
        if (g == null) {
            problems.add(at.at(gp, expected));
            return null;
        }
        int set = (g.validated() != null ? 1 : 0)
                + (g.soak() != null ? 1 : 0)
                + (g.approvals() != null ? 1 : 0)
                + (g.window() != null ? 1 : 0);
        if (set != 1) {
            problems.add(at.at(
                    gp, set == 0 ? expected : "one gate per list item (write each as its own '- ' item); " + expected));
            return null;
        }
        try {
            if (g.validated() != null) {
                ValidatedDoc v = g.validated();
                if (v.provider() != null && !PROVIDERS.contains(v.provider())) {
                    problems.add(at.at(
                            gp + ".validated.provider",
                            "expected one of " + PROVIDERS + ", got '" + v.provider() + "'"));
                    return null;
                }
                int masters = v.masters() == null ? 1 : v.masters();
                int workers = v.workers() == null ? 0 : v.workers();
                if (masters < 1) {
                    problems.add(at.at(gp + ".validated.masters", "expected at least 1, got " + masters));
                    return null;
                }
                if (workers < 0) {
                    problems.add(at.at(gp + ".validated.workers", "expected 0 or more, got " + workers));
                    return null;
                }
                return new Environments.Validated(v.provider(), masters, workers);
            }
            if (g.soak() != null) {
                if (!hasFrom) {
                    problems.add(at.at(gp + ".soak", "a soak time needs 'from': the environment the version soaks in"));
                    return null;
                }
                return new Environments.Soak(Environments.Durations.parse(g.soak()));
            }
            if (g.approvals() != null) {
                if (g.approvals() < 1) {
                    problems.add(at.at(gp + ".approvals", "expected at least 1, got " + g.approvals()));
                    return null;
                }
                return new Environments.Approvals(g.approvals());
            }
            return new Environments.TimeWindow(Window.parse(g.window()));
        } catch (IllegalArgumentException bad) {
            String field = g.soak() != null ? ".soak" : ".window";
            problems.add(at.at(gp + field, bad.getMessage()));
            return null;
        }
    }

    private static EnvironmentsException empty(Path file) {
        return new EnvironmentsException(List.of(new YamlProblem(
                file,
                1,
                0,
                null,
                "the environments file is empty; expected 'environments:' with a list of environments")));
    }
}
