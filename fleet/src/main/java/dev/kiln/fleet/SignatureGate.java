package dev.kiln.fleet;

import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.ManifestSignatures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * kiln serve --trust: a version goes to nodes only if one of the trusted keys signed its manifest
 * and the files nodes boot from (the pxe/ files) match that signed manifest. Hashing those files
 * takes a moment, so a verdict is kept until the manifest, the signature or one of the files
 * changes on disk (size, mtime or inode).
 */
final class SignatureGate {
    private static final Logger LOG = LoggerFactory.getLogger(SignatureGate.class);

    private final List<ManifestSignatures.Key> trusted;
    private final List<String> checkedFiles;
    private final Map<Path, Cached> verdicts = new ConcurrentHashMap<>();

    private record Cached(List<Object> stamps, String refusal) {}

    SignatureGate(List<ManifestSignatures.Key> trusted, List<String> checkedFiles) {
        this.trusted = List.copyOf(trusted);
        this.checkedFiles = List.copyOf(checkedFiles);
    }

    /**
     * Why this version must not go to nodes, or null when it is signed by a trusted key and intact.
     */
    String refusal(ImageRef ref, Path versionDir) {
        List<Object> stamps = stamps(versionDir);
        Cached c = verdicts.get(versionDir);
        if (c != null && c.stamps().equals(stamps)) {
            return c.refusal();
        }
        String refusal;
        try {
            ManifestSignatures.Verdict v = ManifestSignatures.check(versionDir, trusted, checkedFiles::contains);
            refusal = v.trusted() ? null : "image " + ref + " is refused by --trust: " + v.problem();
            if (v.trusted()) {
                LOG.info("trust: {} is signed by {} and its pxe files match the signed manifest", ref, v.signedBy());
            }
        } catch (IOException | RuntimeException e) {
            refusal =
                    "image " + ref + " is refused by --trust: its signature cannot be checked (" + e.getMessage() + ")";
        }
        if (refusal != null) {
            LOG.warn("trust: {}", refusal);
        }
        verdicts.put(versionDir, new Cached(stamps, refusal));
        return refusal;
    }

    private List<Object> stamps(Path dir) {
        List<Object> out = new ArrayList<>();
        List<String> files = new ArrayList<>(List.of(ImageStore.MANIFEST, ManifestSignatures.FILE));
        files.addAll(checkedFiles);
        for (String f : files) {
            try {
                BasicFileAttributes a =
                        Files.readAttributes(dir.resolve(f), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                out.add(List.of(f, a.size(), a.lastModifiedTime().toMillis(), String.valueOf(a.fileKey())));
            } catch (IOException e) {
                out.add(List.of(f, "absent"));
            }
        }
        return out;
    }
}
