package dev.kiln.release;

import dev.kiln.aws.AwsErrors;
import dev.kiln.aws.AwsSettings;
import dev.kiln.aws.S3ImageSource;
import dev.kiln.aws.S3Location;
import dev.kiln.aws.S3Store;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Promotion records in S3, next to the versions kiln publish --s3 put there: {@code
 * PREFIX/NAME/.release/events/SEQ.json} and {@code PREFIX/NAME/.release/channels/ENV.json}.
 *
 * <p>An event is written with {@code If-None-Match: *}: S3 refuses (412) a second writer of the
 * same sequence number, which is what makes one of two concurrent promotions lose. A pointer is
 * replaced with {@code If-Match} on the ETag the writer read. Events never change once written, so
 * they are cached under the local cache ({@code CACHE/NAME/.release/events/}); the cache only saves
 * downloads: every read lists S3, and an event the bucket no longer has is dropped.
 */
public final class S3ReleaseStore implements ReleaseStore {
    private final S3Location location;
    private final S3Store store;
    private final S3Client s3;
    private final String where;
    private final ImageStore cache;

    private S3ReleaseStore(S3Store store, ImageStore cache) {
        this.store = store;
        this.location = store.location();
        this.s3 = store.s3();
        this.where = store.where();
        this.cache = cache;
    }

    /**
     * Checks the bucket (credentials, region) once so a typo fails here.
     *
     * @param cacheDir the local cache of this S3 store (the one kiln serve and kiln validate use,
     *     {@link S3ImageSource#defaultCache}, so their records are found)
     */
    public static S3ReleaseStore open(S3Location location, AwsSettings settings, Path cacheDir) throws IOException {
        return new S3ReleaseStore(S3Store.open(location, settings), new ImageStore(cacheDir));
    }

    private String prefix(String image) {
        return location.prefix() + image + "/.release/";
    }

    @Override
    public String describe() {
        return location.toString();
    }

    @Override
    public List<String> images() throws IOException {
        List<String> out = new ArrayList<>();
        try {
            for (String name : store.imageNames()) {
                // An image has promotion records when its events/ holds anything.
                if (s3.listObjectsV2(b -> b.bucket(location.bucket())
                                        .prefix(prefix(name) + "events/")
                                        .maxKeys(1))
                                .keyCount()
                        > 0) {
                    out.add(name);
                }
            }
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "listing images in " + location, where);
        }
        return out;
    }

    @Override
    public List<Stored> events(String image) throws IOException {
        String prefix = prefix(image) + "events/";
        Map<Long, String> keys = new TreeMap<>();
        try {
            for (var page :
                    s3.listObjectsV2Paginator(b -> b.bucket(location.bucket()).prefix(prefix))) {
                for (S3Object o : page.contents()) {
                    long seq = ReleaseStore.seqOf(o.key().substring(prefix.length()));
                    if (seq > 0) {
                        keys.put(seq, o.key());
                    }
                }
            }
        } catch (SdkException e) {
            throw AwsErrors.explain(e, "listing s3://" + location.bucket() + "/" + prefix, where);
        }
        Path cached = cache.root().resolve(image).resolve(".release").resolve("events");
        dropUnlisted(cached, keys);
        List<Stored> out = new ArrayList<>();
        for (Map.Entry<Long, String> k : keys.entrySet()) {
            Path f = cached.resolve(ReleaseStore.eventName(k.getKey()));
            byte[] json;
            if (Files.isRegularFile(f)) {
                json = Files.readAllBytes(f);
            } else {
                json = get(k.getValue());
                if (json == null) {
                    continue; // listed, then gone: a bucket being cleaned up
                }
                Files.createDirectories(cached);
                Path tmp = cached.resolve(
                        "." + f.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
                Files.write(tmp, json);
                Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            out.add(new Stored(k.getKey(), json));
        }
        return out;
    }

    /**
     * A cached event the bucket does not list any more (the bucket was emptied) must not come back.
     */
    private static void dropUnlisted(Path cached, Map<Long, String> listed) throws IOException {
        if (!Files.isDirectory(cached)) {
            return;
        }
        try (Stream<Path> files = Files.list(cached)) {
            for (Path f : files.toList()) {
                long seq = ReleaseStore.seqOf(f.getFileName().toString());
                if (seq > 0 && !listed.containsKey(seq)) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    private byte[] get(String key) throws IOException {
        ResponseBytes<GetObjectResponse> r = getWithETag(key);
        return r == null ? null : r.asByteArray();
    }

    /** The object and its ETag; null when there is none. */
    private ResponseBytes<GetObjectResponse> getWithETag(String key) throws IOException {
        try {
            return s3.getObjectAsBytes(b -> b.bucket(location.bucket()).key(key));
        } catch (NoSuchKeyException e) {
            return null;
        } catch (SdkException e) {
            if (AwsErrors.status(e) == 404) {
                return null;
            }
            throw AwsErrors.explain(e, "reading s3://" + location.bucket() + "/" + key, where);
        }
    }

    @Override
    public boolean append(String image, long seq, byte[] json) throws IOException {
        String key = prefix(image) + "events/" + ReleaseStore.eventName(seq);
        return put(key, json, null, true);
    }

    @Override
    public Pointer pointer(String image, String env) throws IOException {
        ResponseBytes<GetObjectResponse> r = getWithETag(prefix(image) + "channels/" + env + ".json");
        return r == null ? null : new Pointer(r.asByteArray(), r.response().eTag());
    }

    @Override
    public boolean putPointer(String image, String env, byte[] json, String ifMatch) throws IOException {
        return put(prefix(image) + "channels/" + env + ".json", json, ifMatch, ifMatch == null);
    }

    /**
     * A conditional PUT: false when S3 says the condition failed (412) or a concurrent write won
     * (409).
     */
    private boolean put(String key, byte[] json, String ifMatch, boolean mustBeNew) throws IOException {
        try {
            s3.putObject(
                    b -> {
                        b.bucket(location.bucket()).key(key).contentType("application/json");
                        if (mustBeNew) {
                            b.ifNoneMatch("*");
                        } else {
                            b.ifMatch(ifMatch);
                        }
                    },
                    RequestBody.fromBytes(json));
            return true;
        } catch (SdkException e) {
            int status = AwsErrors.status(e);
            if (status == 412 || status == 409 || AwsErrors.is(e, "PreconditionFailed", "ConditionalRequestConflict")) {
                return false;
            }
            throw AwsErrors.explain(e, "writing s3://" + location.bucket() + "/" + key, where);
        }
    }

    @Override
    public byte[] manifest(ImageRef ref) throws IOException {
        return get(location.versionPrefix(ref) + ImageStore.MANIFEST);
    }

    @Override
    public Path recordsDir(ImageRef ref) {
        return cache.dir(ref);
    }

    @Override
    public void close() {
        store.close();
    }
}
