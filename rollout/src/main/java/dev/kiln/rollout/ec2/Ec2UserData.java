package dev.kiln.rollout.ec2;

import dev.kiln.core.json.Json;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * The user data of a node's instance: its metadata document, exactly what {@code GET /metadata}
 * gives a PXE node, plus {@code server} (kiln serve's public URL) and {@code token} (the node's
 * bearer token), as one flat JSON object. The node agent reads it through IMDSv2 when the kernel
 * command line has no {@code kiln.server=} (templates/agent/kiln-agent: it takes {@code server} and
 * {@code token} from the document), so an instance phones home to kiln serve like a PXE node; the
 * qemu-disk provider of kiln validate hands the same document to its nodes.
 *
 * <p>The document holds the cluster's bootstrap secrets, as {@code /metadata} does: anyone allowed
 * {@code ec2:DescribeInstanceAttribute} on the instance can read them.
 */
public final class Ec2UserData {
    /** EC2 refuses user data above 16 KiB (before base64). */
    public static final int MAX_BYTES = 16 * 1024;

    /** A node's user data by its MAC in kiln serve (the derived one for EC2 nodes). */
    @FunctionalInterface
    public interface Source {
        byte[] userData(String mac) throws IOException;
    }

    /** kiln serve's metadata of a node (null when the inventory has no such node). */
    @FunctionalInterface
    public interface Metadata {
        Map<String, String> of(String mac) throws IOException;
    }

    private Ec2UserData() {}

    /**
     * The source kiln serve gives: {@code Ec2UserData.source(server::metadataOf, server.publicUrl(),
     * server::token)}.
     */
    public static Source source(Metadata metadata, String serverUrl, Function<String, String> tokenOf) {
        return mac -> {
            Map<String, String> doc = metadata.of(mac);
            if (doc == null) {
                throw new IOException(
                        "kiln serve has no node with MAC " + mac + " in its inventory; no user data for it");
            }
            return document(doc, serverUrl, tokenOf.apply(mac));
        };
    }

    /** The document as bytes: the metadata, then {@code server} and {@code token}. */
    public static byte[] document(Map<String, String> metadata, String serverUrl, String token) throws IOException {
        Map<String, String> doc = new LinkedHashMap<>(metadata);
        if (serverUrl != null) {
            doc.put("server", serverUrl);
        }
        if (token == null || token.isEmpty()) {
            throw new IOException("no token for node " + metadata.get("name") + ": it could not report to kiln serve");
        }
        doc.put("token", token);
        byte[] bytes = Json.COMPACT.writeValueAsBytes(doc);
        if (bytes.length > MAX_BYTES) {
            throw new IOException("the user data of node "
                    + metadata.get("name")
                    + " is "
                    + bytes.length
                    + " bytes; EC2 accepts at most "
                    + MAX_BYTES
                    + " (shorten the inventory's metadata of its cluster or node)");
        }
        return bytes;
    }
}
