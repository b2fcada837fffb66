package dev.kiln.machines.container;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.transport.DockerHttpClient;
import dev.kiln.core.json.Json;
import dev.kiln.core.util.Hashing;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.function.Consumer;

/**
 * A node image in dockerd, imported from an image's rootfs.tar (docker import) and tagged only once
 * complete and verified against the manifest's sha256, so a failed or killed import leaves no tag
 * to reuse.
 *
 * @param tag e.g. kiln-node/NAME:VERSION-SHA12
 * @param label KEY=VALUE put on the image (which kiln image it is)
 * @param ref the kiln image, NAME:VERSION, for messages
 */
public record NodeImage(Path rootfsTar, String sha256, String tag, String label, String ref) {

    /** The image's tag, imported from rootfs.tar unless dockerd has it already. */
    public String ensure(Dockerd dockerd, Consumer<String> log) throws IOException {
        DockerClient docker = dockerd.api();
        try {
            docker.inspectImageCmd(tag).exec();
            return tag;
        } catch (NotFoundException e) {
            // imported below
        } catch (RuntimeException e) {
            throw dockerd.unreachable(e);
        }
        long t0 = System.nanoTime();
        String id = importUntagged(dockerd, log);
        try {
            int colon = tag.lastIndexOf(':');
            docker.tagImageCmd(id, tag.substring(0, colon), tag.substring(colon + 1))
                    .exec();
        } catch (RuntimeException e) {
            removeQuietly(docker, id, log);
            throw new IOException("cannot tag imported image " + id + " as " + tag + ": " + e.getMessage(), e);
        }
        log.accept(String.format("imported %s as %s in %.1f s", ref, tag, (System.nanoTime() - t0) / 1e9));
        return tag;
    }

    /**
     * POST /images/create?fromSrc=- (docker import): docker-java's createImageCmd cannot add a
     * label.
     */
    private String importUntagged(Dockerd dockerd, Consumer<String> log) throws IOException {
        log.accept(String.format("importing %s (%d MiB) into dockerd ...", rootfsTar, Files.size(rootfsTar) >> 20));
        String changes = URLEncoder.encode("LABEL " + label, StandardCharsets.UTF_8);
        MessageDigest sha = Hashing.sha256Digest();
        String id = null;
        String error = null;
        try (InputStream tar = new DigestInputStream(Files.newInputStream(rootfsTar), sha);
                DockerHttpClient.Response r = dockerd.http()
                        .execute(DockerHttpClient.Request.builder()
                                .method(DockerHttpClient.Request.Method.POST)
                                .path("/images/create?fromSrc=-&changes=" + changes)
                                .putHeader("Content-Type", "application/x-tar")
                                .body(new FilterInputStream(tar) {
                                    @Override
                                    public void close() {
                                        // the transport closes the body
                                        // once sent; the digest below still
                                        // reads it
                                    }
                                })
                                .build())) {
            // A stream of JSON objects, {"status": "sha256:ID"} last; or {"error"/"message": ...}.
            try (MappingIterator<JsonNode> it =
                    Json.MAPPER.readerFor(JsonNode.class).readValues(r.getBody())) {
                while (it.hasNext()) {
                    JsonNode n = it.next();
                    if (n.hasNonNull("error") || n.hasNonNull("message")) {
                        error = n.hasNonNull("error")
                                ? n.get("error").asText()
                                : n.get("message").asText();
                    } else if (n.path("status").asText().startsWith("sha256:")) {
                        id = n.get("status").asText();
                    }
                }
            }
            if (r.getStatusCode() != 200 && error == null) {
                error = "HTTP " + r.getStatusCode();
            }
            // The digest must cover the whole file, also what dockerd did not need (tar padding).
            tar.transferTo(OutputStream.nullOutputStream());
        } catch (RuntimeException e) {
            error = e.getMessage();
        }
        if (id == null || error != null) {
            throw new IOException("cannot import "
                    + rootfsTar
                    + " into dockerd at "
                    + Dockerd.HOST
                    + ": "
                    + (error != null ? error : "no image id in its answer"));
        }
        String actual = HexFormat.of().formatHex(sha.digest());
        if (!actual.equals(sha256)) {
            removeQuietly(dockerd.api(), id, log);
            throw new IOException(rootfsTar
                    + " has sha256 "
                    + actual
                    + " but its manifest says "
                    + sha256
                    + ": the image store is damaged, rebuild "
                    + ref);
        }
        return id;
    }

    private static void removeQuietly(DockerClient docker, String id, Consumer<String> log) {
        try {
            docker.removeImageCmd(id).withForce(true).exec();
        } catch (RuntimeException e) {
            log.accept("could not remove image " + id + ": " + e.getMessage());
        }
    }
}
