package dev.kiln.builder.build;

import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The manifest's artifact records (sha256 and size per file of the version's directory), filled
 * by the build's writers as each finishes, from their own threads, so an artifact is hashed while
 * the others are still being written instead of all of them in turn afterwards.
 */
final class ArtifactHashes {
    private final Path dir;
    private final Map<String, Manifest.Artifact> byPath = new ConcurrentHashMap<>();

    ArtifactHashes(Path dir) {
        this.dir = dir;
    }

    /** Hashes one artifact (once: a second call returns the first hash) and returns its sha256. */
    String add(Path file) throws IOException {
        String rel = dir.relativize(file).toString();
        Manifest.Artifact known = byPath.get(rel);
        if (known != null) {
            return known.sha256();
        }
        Manifest.Artifact a = new Manifest.Artifact(Hashing.sha256(file), Files.size(file));
        byPath.put(rel, a);
        return a.sha256();
    }

    /** Every regular file under the directory that is not hashed yet. */
    void addTree(Path tree) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(tree)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        for (Path f : files) {
            add(f);
        }
    }

    /**
     * The records of every file in the directory, sorted by path: what the writers hashed, and
     * any file none of them did. The files the manifest step writes itself (manifest, SBOM) and
     * the staging's hidden work files are not artifacts.
     */
    Map<String, Manifest.Artifact> all() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).toList();
        }
        Map<String, Manifest.Artifact> out = new TreeMap<>();
        for (Path f : files) {
            String rel = dir.relativize(f).toString();
            if (!rel.equals(ImageStore.MANIFEST) && !rel.equals(Sbom.FILE) && !rel.startsWith(".")) {
                add(f);
                out.put(rel, byPath.get(rel));
            }
        }
        return out;
    }
}
