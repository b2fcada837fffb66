package dev.kiln.rollout.ec2;

import dev.kiln.core.store.ImageRef;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.services.ec2.model.Filter;
import software.amazon.awssdk.services.ec2.model.Instance;
import software.amazon.awssdk.services.ec2.model.Tag;

/**
 * The tags kiln puts on the instances of a cluster. They are how kiln finds a node's instance again
 * (after a crash of kiln serve too), so no instance is launched twice for one node and none of
 * another node is touched. {@code kiln:name}/{@code kiln:version} are the image's, as on the AMIs.
 */
public final class Ec2Tags {
    public static final String CLUSTER = "kiln:cluster";
    public static final String NODE = "kiln:node";
    public static final String IMAGE_NAME = "kiln:name";
    public static final String VERSION = "kiln:version";

    /** States of an instance that holds (or will hold) its node's address. */
    static final List<String> ALIVE = List.of("pending", "running", "stopping", "stopped");

    private Ec2Tags() {}

    static Tag tag(String key, String value) {
        return Tag.builder().key(key).value(value).build();
    }

    static List<Tag> of(String cluster, String node, ImageRef version) {
        List<Tag> t = new ArrayList<>();
        t.add(tag("Name", cluster + "-" + node));
        t.add(tag(CLUSTER, cluster));
        t.add(tag(NODE, node));
        t.add(tag(IMAGE_NAME, version.name()));
        t.add(tag(VERSION, version.version()));
        return t;
    }

    static Filter filter(String name, String... values) {
        return Filter.builder().name(name).values(values).build();
    }

    static Filter tagFilter(String key, String value) {
        return filter("tag:" + key, value);
    }

    static Filter states(List<String> states) {
        return Filter.builder().name("instance-state-name").values(states).build();
    }

    static String value(Instance i, String key) {
        for (Tag t : i.tags()) {
            if (t.key().equals(key)) {
                return t.value();
            }
        }
        return null;
    }

    /** The image version an instance was launched with, per its tags; null if untagged. */
    static ImageRef version(Instance i) {
        String name = value(i, IMAGE_NAME);
        String version = value(i, VERSION);
        return name == null || version == null ? null : new ImageRef(name, version);
    }
}
