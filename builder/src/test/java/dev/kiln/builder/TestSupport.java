package dev.kiln.builder;

import java.nio.file.Files;
import java.nio.file.Path;

/** Paths into the repository for tests (surefire passes kiln.repo.root). */
public final class TestSupport {
    private TestSupport() {}

    public static Path repoRoot() {
        String p = System.getProperty("kiln.repo.root");
        Path root = p != null ? Path.of(p) : Path.of("..");
        if (!Files.isDirectory(root.resolve("image-specs"))) {
            root = Path.of(".");
        }
        return root.toAbsolutePath().normalize();
    }

    public static Path repo(String relative) {
        return repoRoot().resolve(relative);
    }
}
