package dev.kiln.cli;

import dev.kiln.core.json.Json;
import dev.kiln.release.Event;
import dev.kiln.release.Releases;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "channels",
        mixinStandardHelpOptions = true,
        description = {
            "Shows where each environment of an image points: version, since when,",
            "by whom, and the evidence its gates had. An environment pointing at a",
            "revoked version is flagged REVOKED."
        },
        footer = {
            "",
            "Examples:",
            "  kiln channels debian-node",
            "  kiln channels debian-node --store s3://my-images/kiln --json"
        })
final class ChannelsCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME")
    String image;

    @Option(names = "--json", description = "Print JSON: one object per environment.")
    boolean json;

    @Mixin
    ReleaseOptions options;

    @Override
    public Integer call() throws Exception {
        try (Releases releases = options.open()) {
            List<Releases.Channel> channels = releases.channels(image, options.environmentsIfAny());
            if (json) {
                List<Map<String, Object>> out = new ArrayList<>();
                for (Releases.Channel c : channels) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("env", c.env());
                    row.put("version", c.current() == null ? null : c.current().version());
                    row.put("since", c.current() == null ? null : c.current().at());
                    row.put("by", c.current() == null ? null : c.current().by());
                    row.put("event", c.current());
                    row.put("revoked", c.revocation());
                    out.add(row);
                }
                System.out.println(Json.MAPPER.writeValueAsString(out));
                return 0;
            }
            if (channels.isEmpty()) {
                System.out.println("no environment of "
                        + image
                        + " has been promoted to in "
                        + releases.store().describe());
                return 0;
            }
            System.out.println(image + " (" + releases.store().describe() + ")");
            for (Releases.Channel c : channels) {
                Event e = c.current();
                if (e == null) {
                    System.out.printf("  %-10s -%n", c.env());
                    continue;
                }
                System.out.printf(
                        "  %-10s %s  since %s by %s (%s, event #%d)%s%n",
                        c.env(),
                        e.version(),
                        e.at(),
                        e.by(),
                        e.type(),
                        e.seq(),
                        e.reason() == null ? "" : ": " + e.reason());
                if (c.revocation() != null) {
                    Event r = c.revocation();
                    System.out.println("             REVOKED by "
                            + r.by()
                            + " at "
                            + r.at()
                            + ": "
                            + r.reason()
                            + " (kiln serve refuses it; promote another version or roll back)");
                }
                for (Event.GateResult g : e.gates() == null ? List.<Event.GateResult>of() : e.gates()) {
                    System.out.println("             " + g.line());
                }
            }
            return 0;
        }
    }
}
