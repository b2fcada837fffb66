package dev.kiln.validator;

import dev.kiln.core.json.Json;
import dev.kiln.core.util.Hashing;
import dev.kiln.validator.ValidationReport.Check;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes a validation report as JSON and JUnit XML (for CI), and prints its summary. */
final class ReportWriter {
    static final String JSON_FILE = "report.json";
    static final String JUNIT_FILE = "junit.xml";

    private ReportWriter() {}

    /**
     * @param jsonSha256 the digest of report.json, which the store records
     */
    record Written(Path json, Path junit, String jsonSha256) {}

    static Written write(ValidationReport report, Path dir) throws IOException {
        Files.createDirectories(dir);
        byte[] json = Json.MAPPER.writer().writeValueAsBytes(report);
        Path jsonFile = dir.resolve(JSON_FILE);
        Files.write(jsonFile, json);
        Path junitFile = dir.resolve(JUNIT_FILE);
        Files.writeString(junitFile, junit(report), StandardCharsets.UTF_8);
        return new Written(jsonFile, junitFile, Hashing.sha256(json));
    }

    /** "3 pass, 1 fail" for a node's raw check results. */
    static String tally(List<Map<String, Object>> results) {
        long pass =
                results.stream().filter(r -> Check.PASS.equals(r.get("status"))).count();
        return pass + " pass, " + (results.size() - pass) + " fail";
    }

    /** The console summary: one row per node with its timings and checks, then the verdict. */
    static List<String> summary(ValidationReport r) {
        List<String> out = new ArrayList<>();
        out.add(String.format(
                Locale.ROOT,
                "%-5s %-12s %-15s %8s %9s %10s %7s  %s",
                "node",
                "role",
                "address",
                "booted",
                "metadata",
                "bootstrap",
                "ready",
                "checks"));
        for (ValidationReport.Node n : r.nodes()) {
            long pass = count(n.checks(), Check.PASS);
            long fail = count(n.checks(), Check.FAIL);
            long skip = count(n.checks(), Check.SKIP);
            out.add(String.format(
                    Locale.ROOT,
                    "%-5s %-12s %-15s %8s %9s %10s %7s  %s",
                    n.name(),
                    n.role(),
                    n.address(),
                    time(n, "booted"),
                    time(n, "metadata-fetched"),
                    time(n, "bootstrap-started"),
                    time(n, "ready"),
                    n.failure() != null
                            ? "FAILED in " + n.failure().step()
                            : pass
                                    + " pass"
                                    + (fail > 0 ? ", " + fail + " FAIL" : "")
                                    + (skip > 0 ? ", " + skip + " skip" : "")));
            for (Check c : n.checks()) {
                if (Check.FAIL.equals(c.status())) {
                    out.add("      " + c.check() + ": " + c.status() + ": " + c.detail());
                }
            }
            if (n.failure() != null) {
                out.add("      " + n.failure().step() + ": " + n.failure().error());
            }
            if (RootReport.worthShowing(n.root())) {
                out.add("      root " + n.root());
            }
        }
        for (Check c : r.cluster()) {
            out.add("cluster " + c.check() + " (on " + c.node() + "): " + c.status() + ": " + c.detail());
        }
        for (String note : r.notes()) {
            out.add("note: " + note);
        }
        out.add(String.format(
                Locale.ROOT,
                "%s %s on %s (%d master%s + %d worker%s) in %.0f s%s",
                r.passed() ? "VALIDATED" : "FAILED",
                r.image(),
                r.provider(),
                r.masters(),
                r.masters() == 1 ? "" : "s",
                r.workers(),
                r.workers() == 1 ? "" : "s",
                r.seconds(),
                r.error() == null ? "" : ": " + r.error()));
        return out;
    }

    private static String time(ValidationReport.Node n, String step) {
        Double t = n.reached().get(step);
        return t == null ? "-" : String.format(Locale.ROOT, "%.1fs", t);
    }

    /**
     * One testsuite per node (its bootstrap, then its checks) and one for the cluster checks, so CI
     * shows which node failed which step.
     */
    static String junit(ValidationReport r) {
        StringBuilder suites = new StringBuilder();
        List<Check> all = new ArrayList<>();
        for (ValidationReport.Node n : r.nodes()) {
            List<Check> cases = new ArrayList<>();
            cases.add(
                    n.failure() == null
                            ? new Check("bootstrap", Check.PASS, "", n.name())
                            : new Check(
                                    "bootstrap",
                                    Check.FAIL,
                                    n.failure().step() + ": " + n.failure().error(),
                                    n.name()));
            cases.addAll(n.checks());
            Double ready = n.reached().getOrDefault("checked", n.reached().get("ready"));
            suite(
                    suites,
                    r.image() + " " + n.name(),
                    n.name(),
                    cases,
                    ready == null ? 0 : ready,
                    n.console() == null ? null : String.join("\n", n.console()));
            all.addAll(cases);
        }
        if (!r.cluster().isEmpty()) {
            suite(suites, r.image() + " cluster", "cluster", r.cluster(), 0, null);
            all.addAll(r.cluster());
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                + String.format(
                        Locale.ROOT,
                        "<testsuites name=\"%s\" tests=\"%d\" failures=\"%d\" time=\"%.1f\">%n",
                        xml("kiln validate " + r.image() + " on " + r.provider()),
                        all.size(),
                        count(all, Check.FAIL),
                        r.seconds())
                + suites
                + "</testsuites>\n";
    }

    private static long count(List<Check> checks, String status) {
        return checks.stream().filter(c -> status.equals(c.status())).count();
    }

    private static void suite(
            StringBuilder sb, String name, String classname, List<Check> cases, double seconds, String systemOut) {
        sb.append(String.format(
                Locale.ROOT,
                "  <testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" skipped=\"%d\" time=\"%.1f\">%n",
                xml(name),
                cases.size(),
                count(cases, Check.FAIL),
                count(cases, Check.SKIP),
                seconds));
        for (Check c : cases) {
            sb.append("    <testcase classname=\"")
                    .append(xml(classname))
                    .append("\" name=\"")
                    .append(xml(c.check()))
                    .append('"');
            if (Check.FAIL.equals(c.status())) {
                sb.append(">\n      <failure message=\"")
                        .append(xml(c.detail()))
                        .append("\"/>\n    </testcase>\n");
            } else if (Check.SKIP.equals(c.status())) {
                sb.append(">\n      <skipped message=\"")
                        .append(xml(c.detail()))
                        .append("\"/>\n    </testcase>\n");
            } else {
                sb.append("/>\n");
            }
        }
        if (systemOut != null) {
            sb.append("    <system-out>").append(xml(systemOut)).append("</system-out>\n");
        }
        sb.append("  </testsuite>\n");
    }

    /**
     * XML text: escaped, and without the control characters XML 1.0 forbids (consoles have them).
     */
    static String xml(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '&' -> sb.append("&amp;");
                case '"' -> sb.append("&quot;");
                default -> {
                    if (ch >= 0x20 || ch == '\n' || ch == '\t') {
                        sb.append(ch);
                    }
                }
            }
        }
        return sb.toString();
    }
}
