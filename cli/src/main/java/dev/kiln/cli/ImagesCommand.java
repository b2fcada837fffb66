package dev.kiln.cli;

import dev.kiln.core.store.Manifest;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "images", mixinStandardHelpOptions = true,
        description = "Lists the image versions in the store.",
        footer = {"", "Example:", "  kiln images --store /srv/kiln/images"})
final class ImagesCommand implements Callable<Integer> {
    @Mixin
    StoreOption store;

    @Override
    public Integer call() throws Exception {
        List<Manifest> all = store.open().list();
        if (all.isEmpty()) {
            System.out.println("no images in " + store.open().root());
            return 0;
        }
        System.out.printf("%-20s %-28s %-26s %-22s %s%n", "NAME", "VERSION", "KERNEL", "BUILT", "OUTPUTS");
        for (Manifest m : all) {
            System.out.printf("%-20s %-28s %-26s %-22s %s%n", m.name(), m.version(), m.kernel().release(), m.builtAt(),
                    String.join(",", m.outputs()));
        }
        return 0;
    }
}
