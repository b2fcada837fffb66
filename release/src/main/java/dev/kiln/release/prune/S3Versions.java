package dev.kiln.release.prune;

import dev.kiln.aws.AwsErrors;
import dev.kiln.aws.AwsSettings;
import dev.kiln.aws.S3Location;
import dev.kiln.aws.S3Store;
import dev.kiln.core.json.Json;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Manifest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An S3 store (kiln publish --s3). Readers find a version by its manifest.json, so deleting the
 * manifest first hides the version in one request; the artifacts go after. Before that, a tombstone
 * {@code PREFIX/NAME/.prune/VERSION} says the version is being deleted: a prune killed after the
 * manifest went leaves artifacts without a manifest, and the next prune finishes those it finds a
 * tombstone for. Artifacts without a manifest and without a tombstone are a publish in progress (it
 * uploads the manifest last) and are left alone.
 *
 * <p>The version's copy in the local cache (kiln serve's and kiln validate's, where published.json
 * of its AMIs is found) is deleted with it, the local way.
 */
public final class S3Versions implements VersionStore {
    private final S3Location location;
    private final S3Store store;
    private final S3Client s3;
    private final String where;
    private final LocalVersions cache;
    private final ImageStore cacheStore;

    /** Checks the bucket once ({@link S3Store#open}), so a typo fails here. */
    public S3Versions(S3Location location, AwsSettings settings, Path cacheDir) throws IOException {
        this.store = S3Store.open(location, settings);
        this.location = location;
        this.s3 = store.s3();
        this.where = store.where();
        this.cacheStore = new ImageStore(cacheDir);
        this.cache = new LocalVersions(cacheStore);
    }

    /** Closes the AWS clients. */
    public void close() {
        store.close();
    }

    @Override
    public String describe() {
        return location.toString();
    }

    @Override
    public Set<String> names() throws IOException {
        Set<String> names = new TreeSet<>();
        for (String name : store.imageNames()) {
            if (!name.startsWith(".")) {
                names.add(name);
            }
        }
        return names;
    }

    /**
     * Object keys and sizes under NAME/, by version ("" for NAME/.release and the like is skipped).
     */
    private Map<String, Map<String, Long>> objects(String name) throws IOException {
        String prefix = location.prefix() + name + "/";
        Map<String, Map<String, Long>> byVersion = new LinkedHashMap<>();
        try {
            for (var page :
                    s3.listObjectsV2Paginator(b -> b.bucket(location.bucket()).prefix(prefix))) {
                for (S3Object o : page.contents()) {
                    String rest = o.key().substring(prefix.length());
                    int slash = rest.indexOf('/');
                    if (slash <= 0 || rest.startsWith(".")) {
                        continue;
                    }
                    byVersion
                            .computeIfAbsent(rest.substring(0, slash), v -> new LinkedHashMap<>())
                            .put(o.key(), o.size());
                }
            }
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "listing " + location + name + "/", where);
        }
        return byVersion;
    }

    @Override
    public List<Version> versions() throws IOException {
        List<Version> out = new ArrayList<>();
        for (String name : names()) {
            for (Map.Entry<String, Map<String, Long>> v : objects(name).entrySet()) {
                ImageRef ref = new ImageRef(name, v.getKey());
                if (!v.getValue().containsKey(location.manifestKey(ref))) {
                    continue; // being published, or being pruned: not a version readers see
                }
                Manifest m;
                try {
                    m = Json.MAPPER.readValue(
                            s3.getObjectAsBytes(b -> b.bucket(location.bucket()).key(location.manifestKey(ref)))
                                    .asByteArray(),
                            Manifest.class);
                } catch (SdkException e) {
                    throw AwsErrors.explain(e, "reading " + location.url(ref) + ImageStore.MANIFEST, where);
                }
                out.add(new Version(
                        ref,
                        Instant.parse(m.builtAt()),
                        v.getValue().values().stream()
                                .mapToLong(Long::longValue)
                                .sum()));
            }
        }
        return out;
    }

    private String tombstone(ImageRef ref) {
        return location.prefix() + ref.name() + "/.prune/" + ref.version();
    }

    @Override
    public List<String> finishInterrupted() throws IOException {
        List<String> done = new ArrayList<>();
        for (String name : names()) {
            String prefix = location.prefix() + name + "/.prune/";
            List<String> stones = new ArrayList<>();
            try {
                for (var page : s3.listObjectsV2Paginator(
                        b -> b.bucket(location.bucket()).prefix(prefix))) {
                    page.contents().forEach(o -> stones.add(o.key()));
                }
            } catch (SdkException e) {
                throw AwsErrors.explain(e, "listing " + location + name + "/.prune/", where);
            }
            for (String key : stones) {
                ImageRef ref = new ImageRef(name, key.substring(prefix.length()));
                Map<String, Long> left = objects(name).getOrDefault(ref.version(), Map.of());
                if (left.containsKey(location.manifestKey(ref))) {
                    // Killed before the manifest went: the version is whole and visible; this run
                    // decides afresh.
                    deleteKeys(List.of(key));
                    continue;
                }
                deleteKeys(new ArrayList<>(left.keySet()));
                deleteCached(ref);
                deleteKeys(List.of(key));
                done.add(ref.toString());
            }
        }
        done.addAll(cache.finishInterrupted());
        return done;
    }

    @Override
    public void delete(ImageRef ref) throws IOException {
        try {
            s3.putObject(
                    b -> b.bucket(location.bucket()).key(tombstone(ref)).contentType("application/json"),
                    software.amazon.awssdk.core.sync.RequestBody.fromString(
                            "{\"pruning\":\"" + ref + "\",\"at\":\"" + Instant.now() + "\"}\n",
                            StandardCharsets.UTF_8));
            s3.deleteObject(b -> b.bucket(location.bucket()).key(location.manifestKey(ref)));
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "hiding " + location.url(ref) + " (tombstone, then manifest.json)", where);
        }
        CrashPoint.reached(CrashPoint.S3_MANIFEST_DELETED);
        deleteKeys(new ArrayList<>(
                objects(ref.name()).getOrDefault(ref.version(), Map.of()).keySet()));
        deleteCached(ref);
        deleteKeys(List.of(tombstone(ref)));
    }

    private void deleteCached(ImageRef ref) throws IOException {
        if (cacheStore.exists(ref)) {
            cache.delete(ref);
        }
    }

    private void deleteKeys(List<String> keys) throws IOException {
        for (int i = 0; i < keys.size(); i += 1000) {
            List<ObjectIdentifier> batch = keys.subList(i, Math.min(keys.size(), i + 1000)).stream()
                    .map(k -> ObjectIdentifier.builder().key(k).build())
                    .toList();
            try {
                var r = s3.deleteObjects(b -> b.bucket(location.bucket())
                        .delete(Delete.builder().objects(batch).quiet(true).build()));
                if (r.hasErrors() && !r.errors().isEmpty()) {
                    var e = r.errors().get(0);
                    throw new IOException("could not delete s3://"
                            + location.bucket()
                            + "/"
                            + e.key()
                            + ": "
                            + e.code()
                            + " "
                            + e.message()
                            + " ("
                            + r.errors().size()
                            + " objects failed; run kiln prune again to finish)");
                }
            } catch (SdkException e) {
                throw AwsErrors.explain(e, "deleting objects of " + location, where);
            }
        }
    }

    @Override
    public Path recordsDir(ImageRef ref) {
        return cacheStore.dir(ref);
    }
}
