package dev.kiln.release.prune;

import dev.kiln.aws.AwsClients;
import dev.kiln.aws.AwsErrors;
import dev.kiln.aws.AwsSettings;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Published;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.Ec2Client;
import software.amazon.awssdk.services.ec2.model.BlockDeviceMapping;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ssm.SsmClient;
import software.amazon.awssdk.services.ssm.model.Parameter;
import software.amazon.awssdk.services.ssm.model.ParameterMetadata;

/**
 * The AMIs of a version, in every region published.json lists: deregistered, then their EBS
 * snapshots deleted. published.json is the to-do list and is updated after each step (the snapshot
 * id recorded before the AMI goes, since a deregistered AMI no longer names it; the entry dropped
 * once the snapshot is gone), so a killed prune is finished by the next one.
 *
 * <p>An SSM parameter whose value is the AMI (kiln promote points /kiln/images/NAME/ENV at it, and
 * launch templates may resolve others) blocks it: deleting the AMI would break every launch through
 * that parameter. Every parameter of the region is looked at, not only kiln's.
 */
public final class Amis implements AutoCloseable {
    private final AwsSettings settings;
    private final Map<String, AwsClients> clients = new HashMap<>();

    /** region+endpoint → AMI id → parameters whose value it is. */
    private final Map<String, Map<String, List<String>>> ssmValues = new HashMap<>();

    public Amis(AwsSettings settings) {
        this.settings = settings;
    }

    /** The AMIs published.json lists for the version, or an empty list. */
    public static List<Published.Ami> of(Path recordsDir) throws IOException {
        Published p = Published.read(recordsDir);
        return p == null || p.amis() == null ? List.of() : p.amis();
    }

    /** Why the AMIs cannot go: one line per AMI an SSM parameter still points at. */
    public List<String> blockers(List<Published.Ami> amis) throws IOException {
        List<String> out = new ArrayList<>();
        for (Published.Ami a : amis) {
            List<String> params = parameters(a).getOrDefault(a.imageId(), List.of());
            if (!params.isEmpty()) {
                out.add("AMI "
                        + a.imageId()
                        + " in "
                        + a.region()
                        + " is the value of SSM parameter "
                        + String.join(", ", params)
                        + ": point it elsewhere (kiln promote another version) before this version can be pruned");
            }
        }
        return out;
    }

    /** Deregisters each AMI and deletes its snapshot, recording progress in published.json. */
    public void delete(ImageRef ref, Path recordsDir, java.util.function.Consumer<String> log) throws IOException {
        for (Published.Ami a : of(recordsDir)) {
            String where = where(a);
            Ec2Client ec2 = clients(a).ec2(Region.of(a.region()));
            String snapshot = a.snapshotId();
            try {
                List<Image> images =
                        ec2.describeImages(b -> b.imageIds(a.imageId())).images();
                if (!images.isEmpty()) {
                    for (BlockDeviceMapping m : images.get(0).blockDeviceMappings()) {
                        if (m.ebs() != null && m.ebs().snapshotId() != null) {
                            snapshot = m.ebs().snapshotId();
                        }
                    }
                    if (!Objects.equals(snapshot, a.snapshotId())) {
                        String s = snapshot;
                        Published.update(
                                recordsDir,
                                ref.toString(),
                                p -> p.withAmi(new Published.Ami(
                                        a.region(),
                                        a.imageId(),
                                        s,
                                        a.name(),
                                        a.copiedFrom(),
                                        a.sharedWith(),
                                        a.ssmParameter(),
                                        a.endpoint(),
                                        a.publishedAt())));
                    }
                    ec2.deregisterImage(b -> b.imageId(a.imageId()));
                    log.accept("deregistered " + a.imageId() + " in " + a.region());
                }
            } catch (SdkException e) {
                if (!AwsErrors.is(e, "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable")) {
                    throw AwsErrors.explain(e, "deregistering " + a.imageId() + " of " + ref, where);
                }
            }
            CrashPoint.reached(CrashPoint.AMI_DEREGISTERED);
            if (snapshot != null) {
                String s = snapshot;
                try {
                    ec2.deleteSnapshot(b -> b.snapshotId(s));
                    log.accept("deleted snapshot " + s + " in " + a.region());
                } catch (SdkException e) {
                    if (!AwsErrors.is(e, "InvalidSnapshot.NotFound")) {
                        throw AwsErrors.explain(
                                e, "deleting snapshot " + s + " of " + a.imageId() + " (" + ref + ")", where);
                    }
                }
            }
            Published.update(recordsDir, ref.toString(), p -> {
                List<Published.Ami> rest = new ArrayList<>(p.amis() == null ? List.of() : p.amis());
                rest.removeIf(x -> x.region().equals(a.region()) && x.imageId().equals(a.imageId()));
                return new Published(p.ref(), p.s3() == null ? List.of() : p.s3(), List.copyOf(rest));
            });
        }
    }

    private Map<String, List<String>> parameters(Published.Ami a) throws IOException {
        String key = a.region() + " " + a.endpoint();
        Map<String, List<String>> known = ssmValues.get(key);
        if (known != null) {
            return known;
        }
        Map<String, List<String>> byValue = new HashMap<>();
        SsmClient ssm = clients(a).ssm(Region.of(a.region()));
        try {
            List<String> names = new ArrayList<>();
            for (var page : ssm.describeParametersPaginator(b -> b.maxResults(50))) {
                page.parameters().stream().map(ParameterMetadata::name).forEach(names::add);
            }
            for (int i = 0; i < names.size(); i += 10) {
                List<String> batch = names.subList(i, Math.min(names.size(), i + 10));
                for (Parameter p : ssm.getParameters(b -> b.names(batch)).parameters()) {
                    byValue.computeIfAbsent(p.value(), v -> new ArrayList<>()).add(p.name());
                }
            }
        } catch (SdkException e) {
            throw AwsErrors.explain(
                    e,
                    "reading the SSM parameters of " + a.region() + " (is any still pointing at " + a.imageId() + "?)",
                    where(a));
        }
        ssmValues.put(key, byValue);
        return byValue;
    }

    private AwsClients clients(Published.Ami a) {
        return clients.computeIfAbsent(
                a.region() + " " + a.endpoint(),
                k -> new AwsClients(
                        new AwsSettings(a.region(), endpoint(a), settings.profile(), settings.credentials()), 1));
    }

    private URI endpoint(Published.Ami a) {
        return a.endpoint() != null ? URI.create(a.endpoint()) : settings.endpoint();
    }

    private String where(Published.Ami a) {
        return "region " + a.region() + (endpoint(a) != null ? " (endpoint " + endpoint(a) + ")" : "");
    }

    @Override
    public void close() {
        clients.values().forEach(AwsClients::close);
    }
}
