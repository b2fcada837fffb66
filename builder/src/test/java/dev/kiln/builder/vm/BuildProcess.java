package dev.kiln.builder.vm;

import dev.kiln.builder.build.ImageBuilder;
import dev.kiln.core.progress.Progress;
import dev.kiln.core.store.ImageStore;
import java.nio.file.Path;

/** A build in its own JVM, so a test can kill it with SIGKILL mid-way. Args: SPEC STORE CACHE. */
public final class BuildProcess {
    private BuildProcess() {}

    public static void main(String[] args) throws Exception {
        ImageBuilder builder = new ImageBuilder(new ImageStore(Path.of(args[1])), Path.of(args[2]), Progress.SILENT);
        builder.cancelOnShutdown(Thread.currentThread());
        builder.build(Path.of(args[0]));
    }
}
