package dev.kiln.release;

import dev.kiln.aws.AwsClients;
import dev.kiln.aws.AwsSettings;
import dev.kiln.aws.SsmImagePointer;
import dev.kiln.core.store.ImageRef;
import dev.kiln.core.store.Published;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.regions.Region;

/**
 * {@code /kiln/images/NAME/ENV} (SSM, data type aws:ec2:image) in every region the version has an
 * AMI (published.json beside its manifest), as EKS and Bottlerocket publish theirs: launch
 * templates and Terraform read the environment's AMI from it. The parameter's own version history
 * is a second record of the promotions.
 */
public final class SsmChannels {
    private final AwsSettings settings;

    /**
     * @param settings credentials and profile; the endpoint of each AMI's publish is used when it
     *     had one (an emulator)
     */
    public SsmChannels(AwsSettings settings) {
        this.settings = settings;
    }

    public static String parameter(String image, String env) {
        return SsmImagePointer.parameter(image, env);
    }

    /** The parameters to point, one per region with an AMI of the version; empty if it has none. */
    public static List<Event.SsmTarget> targets(ImageRef ref, String env, Path recordsDir) throws IOException {
        Published published = Published.read(recordsDir);
        List<Event.SsmTarget> out = new ArrayList<>();
        if (published == null || published.amis() == null) {
            return out;
        }
        for (Published.Ami a : published.amis()) {
            out.add(new Event.SsmTarget(a.region(), parameter(ref.name(), env), a.imageId(), a.endpoint()));
        }
        return out;
    }

    /**
     * Points each parameter at its AMI; fails naming the region and parameter it could not write.
     */
    public void point(List<Event.SsmTarget> targets, ImageRef ref, String env) throws IOException {
        for (Event.SsmTarget t : targets) {
            URI endpoint = t.endpoint() != null ? URI.create(t.endpoint()) : settings.endpoint();
            AwsSettings s = new AwsSettings(t.region(), endpoint, settings.profile(), settings.credentials());
            String where = "region " + t.region() + (endpoint != null ? " (endpoint " + endpoint + ")" : "");
            try (AwsClients clients = new AwsClients(s, 1)) {
                new SsmImagePointer(clients.ssm(Region.of(t.region())), where)
                        .point(
                                t.parameter(),
                                t.imageId(),
                                "AMI of kiln image " + ref.name() + " in " + env + ": " + ref.version());
            }
        }
    }
}
