package dev.kiln.rollout.ec2;

import dev.kiln.aws.AwsClients;
import dev.kiln.aws.AwsErrors;
import dev.kiln.aws.SsmImagePointer;
import dev.kiln.core.store.ChannelRef;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.ImageStore;
import dev.kiln.core.store.Published;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.ec2.model.Image;
import software.amazon.awssdk.services.ec2.model.Tag;

/**
 * The concrete AMI id a rollout's target version is in one region, at plan time: never a moving
 * pointer, so the plan launches what it showed. From the version's {@code published.json} (written
 * by {@code kiln publish --ami}), or, for a cluster that follows {@code NAME@ENV}, from the
 * environment's SSM parameter {@code /kiln/images/NAME/ENV} (pointed by {@code kiln promote}),
 * checked against the version the promotion records name.
 */
public final class AmiResolver {
    private final ImageStore store;
    private final AwsClients clients;
    private final String endpoint;

    /**
     * @param clients for the SSM parameters and AMI tags; their endpoint (an emulator) also picks
     *     which of published.json's entries count
     */
    public AmiResolver(ImageStore store, AwsClients clients) {
        this.store = store;
        this.clients = clients;
        this.endpoint = clients.settings().endpoint() == null
                ? null
                : clients.settings().endpoint().toString();
    }

    /**
     * @param channel the inventory's {@code NAME@ENV} when the cluster follows one, else null
     * @throws IOException naming what is missing and how to make it
     */
    public String resolve(ImageRef version, String channel, String region) throws IOException {
        return channel == null ? fromPublished(version, region) : fromSsm(version, ChannelRef.parse(channel), region);
    }

    private String fromPublished(ImageRef version, String region) throws IOException {
        Published p = Published.read(store.dir(version));
        if (p == null || p.amis() == null || p.amis().isEmpty()) {
            throw new IOException(version + " has no AMI: " + store.dir(version).resolve(Published.FILE)
                    + (p == null ? " does not exist" : " lists none") + "; publish it with kiln publish --ami --region "
                    + region);
        }
        for (Published.Ami a : p.amis()) {
            if (a.region().equals(region) && Objects.equals(a.endpoint(), endpoint)) {
                return a.imageId();
            }
        }
        String elsewhere = p.amis().stream()
                .map(a -> a.region() + (a.endpoint() != null ? " (endpoint " + a.endpoint() + ")" : ""))
                .collect(Collectors.joining(", "));
        throw new IOException(version + " has no AMI in region " + region
                + (endpoint != null ? " (endpoint " + endpoint + ")" : "") + ", only in " + elsewhere
                + " (" + Published.FILE + "); copy it there with kiln publish --ami --copy-to " + region);
    }

    private String fromSsm(ImageRef version, ChannelRef channel, String region) throws IOException {
        String param = SsmImagePointer.parameter(channel.name(), channel.env());
        String where = "region " + region + (endpoint != null ? " (endpoint " + endpoint + ")" : "");
        String ami = new SsmImagePointer(clients.ssm(Region.of(region)), where).current(param);
        if (ami == null) {
            throw new IOException("SSM parameter " + param + " does not exist in " + where + ": kiln promote "
                    + version + " --to " + channel.env() + " points it in every region the version has an AMI"
                    + " (publish one there first: kiln publish --ami --region " + region + ")");
        }
        List<Image> images;
        try {
            images = clients.ec2(Region.of(region))
                    .describeImages(r -> r.imageIds(ami))
                    .images();
        } catch (SdkException e) {
            if (AwsErrors.is(e, "InvalidAMIID.NotFound", "InvalidAMIID.Malformed")) {
                images = List.of();
            } else {
                throw AwsErrors.explain(e, "describing AMI " + ami + " of SSM parameter " + param, where);
            }
        }
        if (images.isEmpty()) {
            throw new IOException("SSM parameter " + param + " in " + where + " points at AMI " + ami
                    + ", which does not exist (deregistered?): promote again (kiln promote " + version + " --to "
                    + channel.env() + ")");
        }
        String name = tag(images.get(0).tags(), "kiln:name");
        String v = tag(images.get(0).tags(), "kiln:version");
        if (!version.name().equals(name) || !version.version().equals(v)) {
            throw new IOException("SSM parameter " + param + " in " + where + " points at AMI " + ami + " of "
                    + (name == null || v == null
                            ? "no kiln image (it has no kiln:name/kiln:version tags)"
                            : name + ":" + v)
                    + ", but channel " + channel + " is " + version + " in the promotion records: the parameter"
                    + " is stale or was changed by hand; promote again (kiln promote " + version + " --to "
                    + channel.env() + ")");
        }
        return ami;
    }

    private static String tag(List<Tag> tags, String key) {
        return tags.stream()
                .filter(t -> t.key().equals(key))
                .map(Tag::value)
                .findFirst()
                .orElse(null);
    }
}
