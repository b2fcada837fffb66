package dev.kiln.cli;

import dev.kiln.core.store.Manifest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "images",
        mixinStandardHelpOptions = true,
        description = "Lists the image versions in the store.",
        footer = {
            "",
            "Examples:",
            "  kiln images --store /srv/kiln/images",
            "  kiln images --json | jq -r '.[] | select(.name == \"debian-node\") | .version'"
        })
final class ImagesCommand implements Callable<Integer> {
    @Mixin
    StoreOption store;

    @Option(names = "--json", description = "Print the versions' manifests as a JSON array instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        List<Manifest> all = store.open().list();
        if (json) {
            Format.json(all);
            return 0;
        }
        if (all.isEmpty()) {
            System.out.println("no images in " + store.open().root());
            return 0;
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"NAME", "VERSION", "KERNEL", "BUILT", "OUTPUTS"});
        for (Manifest m : all) {
            rows.add(new String[] {
                m.name(), m.version(), m.kernel().release(), m.builtAt(), String.join(",", m.outputs())
            });
        }
        Format.table(rows).forEach(System.out::println);
        return 0;
    }
}
