package dev.kiln.cli;

import dev.kiln.core.json.Json;
import dev.kiln.release.Event;
import dev.kiln.release.Releases;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "history",
        mixinStandardHelpOptions = true,
        description = {
            "Lists every recorded event of an image, oldest first: promotions,",
            "rollbacks, approvals, revocations and promotions that lost a race",
            "(conflict), with who, when, from -> to, why and overridden gates."
        },
        footer = {"", "Examples:", "  kiln history debian-node", "  kiln history debian-node --env prod --json"})
final class HistoryCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME")
    String image;

    @Option(names = "--env", paramLabel = "ENV", description = "Only the events of this environment (and revocations).")
    String env;

    @Option(names = "--json", description = "Print the events as a JSON array, as stored.")
    boolean json;

    @Mixin
    ReleaseOptions options;

    @Override
    public Integer call() throws Exception {
        try (Releases releases = options.open()) {
            List<Event> events = releases.ledger(image).events().stream()
                    .filter(e -> env == null || env.equals(e.env()) || Event.REVOKE.equals(e.type()))
                    .toList();
            if (json) {
                System.out.println(Json.MAPPER.writeValueAsString(events));
                return 0;
            }
            if (events.isEmpty()) {
                System.out.println("no events of "
                        + image
                        + (env == null ? "" : " in " + env)
                        + " in "
                        + releases.store().describe());
                return 0;
            }
            for (Event e : events) {
                StringBuilder sb = new StringBuilder(String.format("#%-4d %s  %-9s", e.seq(), e.at(), e.type()));
                switch (e.type()) {
                    case Event.PROMOTE, Event.ROLLBACK, Event.CONFLICT ->
                        sb.append(String.format(
                                " %-9s %s -> %s",
                                e.env(), e.previousVersion() == null ? "-" : e.previousVersion(), e.version()));
                    case Event.APPROVE -> sb.append(String.format(" %-9s %s", e.env(), e.version()));
                    default -> sb.append(" ").append(e.version());
                }
                sb.append("  by ").append(e.by());
                if (e.reason() != null) {
                    sb.append(": ").append(e.reason());
                }
                if (e.lostTo() != null) {
                    sb.append("  (not applied: lost to #").append(e.lostTo()).append(')');
                }
                if (e.overrides() != null && !e.overrides().isEmpty()) {
                    sb.append("  OVERRIDE ").append(String.join(", ", e.overrides()));
                }
                System.out.println(sb);
            }
            return 0;
        }
    }
}
