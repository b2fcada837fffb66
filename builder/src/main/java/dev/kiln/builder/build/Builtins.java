package dev.kiln.builder.build;

import dev.kiln.builder.spec.RenderedFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Files and units kiln puts into every image, whatever the spec says. */
final class Builtins {
    /** Units enabled in every image. */
    static final List<String> UNITS = List.of(
            "kiln-identity.service", "kiln-agent.service", "kiln-agent-outcome.service", "kiln-grow-root.service");

    private record Entry(String template, String path, int mode) {}

    private static final List<Entry> ENTRIES = List.of(
            new Entry("units/kiln-identity.service", "/usr/lib/systemd/system/kiln-identity.service", 0644),
            new Entry("agent/kiln-identity", "/usr/lib/kiln/kiln-identity", 0755),
            new Entry("units/kiln-agent.service", "/usr/lib/systemd/system/kiln-agent.service", 0644),
            new Entry("units/kiln-agent-outcome.service", "/usr/lib/systemd/system/kiln-agent-outcome.service", 0644),
            new Entry("agent/kiln-agent", "/usr/lib/kiln/kiln-agent", 0755),
            new Entry("agent/kiln-check", "/usr/lib/kiln/kiln-check", 0755),
            new Entry("agent/kiln-storage", "/usr/lib/kiln/kiln-storage", 0755),
            new Entry("units/kiln-grow-root.service", "/usr/lib/systemd/system/kiln-grow-root.service", 0644),
            new Entry("agent/kiln-grow-root", "/usr/lib/kiln/kiln-grow-root", 0755));

    private Builtins() {}

    static List<RenderedFile> files() throws IOException {
        List<RenderedFile> out = new ArrayList<>();
        for (Entry e : ENTRIES) {
            out.add(new RenderedFile(
                    e.path(),
                    new String(PackageLayer.builtin(e.template()), StandardCharsets.UTF_8),
                    e.mode(),
                    "root:root",
                    Set.of()));
        }
        return out;
    }
}
