package dev.kiln.release.prune;

import dev.kiln.core.exec.Exec;
import dev.kiln.core.store.ImageRef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The {@code kiln-node/NAME:VERSION-SHA12} Docker images kiln validate's container provider imports
 * from a version's rootfs.tar. Those of versions the store no longer has are removed; only images
 * of names the store has a place for are looked at, so another store's images (or another user's on
 * a shared daemon) are left alone. Talks to dockerd with the docker CLI.
 */
public final class NodeImages {
    public static final String REPOSITORY_PREFIX = "kiln-node/";

    /**
     * @param tag kiln-node/NAME:VERSION-SHA12; @param ref NAME:VERSION it was made from
     */
    public record NodeImage(String tag, ImageRef ref) {}

    private NodeImages() {}

    /**
     * Every kiln-node image, or null (with the reason in {@code why}) when there is no docker to
     * ask.
     */
    public static List<NodeImage> list(List<String> why) {
        Exec.Result r;
        try {
            r = Exec.of("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
                    .runAllowingFailure();
        } catch (IOException e) {
            why.add("no docker CLI (" + e.getMessage() + ")");
            return null;
        }
        if (r.exitCode() != 0) {
            why.add("docker image ls failed: " + r.tail().trim());
            return null;
        }
        List<NodeImage> out = new ArrayList<>();
        for (String line : r.output().split("\n")) {
            NodeImage i = parse(line.trim());
            if (i != null) {
                out.add(i);
            }
        }
        return out;
    }

    /** kiln-node/NAME:VERSION-SHA12 → NAME:VERSION, else null. */
    static NodeImage parse(String tag) {
        if (!tag.startsWith(REPOSITORY_PREFIX)) {
            return null;
        }
        int colon = tag.indexOf(':');
        int dash = tag.lastIndexOf('-');
        if (colon < 0 || dash < colon || !tag.substring(dash + 1).matches("[0-9a-f]{12}")) {
            return null;
        }
        return new NodeImage(
                tag, new ImageRef(tag.substring(REPOSITORY_PREFIX.length(), colon), tag.substring(colon + 1, dash)));
    }

    /** The images to remove: of a name in {@code names}, of a version not in {@code present}. */
    public static List<NodeImage> stale(List<NodeImage> all, Set<String> names, Set<ImageRef> present) {
        return all.stream()
                .filter(i -> names.contains(i.ref().name()) && !present.contains(i.ref()))
                .toList();
    }

    /** docker rmi; a container still using it makes it fail, which is reported, not fatal. */
    public static String remove(NodeImage image) throws IOException {
        Exec.Result r = Exec.of("docker", "image", "rm", image.tag()).runAllowingFailure();
        return r.exitCode() == 0 ? null : r.tail().trim();
    }
}
