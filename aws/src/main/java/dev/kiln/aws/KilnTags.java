package dev.kiln.aws;

import dev.kiln.core.store.Manifest;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.services.ec2.model.Tag;

/**
 * The EC2 tags kiln puts on the snapshots and AMIs it makes. {@code kiln:name} and {@code
 * kiln:version} are how a re-run finds what an earlier run made; {@code kiln:state} (snapshots
 * only) says whether a snapshot was written completely.
 */
final class KilnTags {
    static final String NAME = "kiln:name";
    static final String VERSION = "kiln:version";
    static final String STATE = "kiln:state";
    static final String BUILT_AT = "kiln:built-at";
    static final String COPIED_FROM = "kiln:copied-from";
    static final String STATE_UPLOADING = "uploading";
    static final String STATE_COMPLETE = "complete";

    /** EC2 allows 50 tags per resource. */
    private static final int MAX_TAGS = 50;

    private KilnTags() {}

    static Tag tag(String key, String value) {
        String v = value == null ? "" : value;
        return Tag.builder()
                .key(key)
                .value(v.length() > 256 ? v.substring(0, 256) : v)
                .build();
    }

    /** kiln:name, kiln:version, kiln:spec-hash, kiln:built-at, kernel and component versions. */
    static List<Tag> of(Manifest m) {
        List<Tag> t = new ArrayList<>();
        t.add(tag("Name", m.name() + " " + m.version()));
        t.add(tag(NAME, m.name()));
        t.add(tag(VERSION, m.version()));
        t.add(tag("kiln:spec-hash", m.specSha256()));
        t.add(tag(BUILT_AT, m.builtAt()));
        if (m.kernel() != null) {
            t.add(tag("kiln:kernel", m.kernel().release()));
            if (m.kernel().version() != null) {
                t.add(tag(
                        "kiln:kernel-package",
                        m.kernel().packageName() + "=" + m.kernel().version()));
            }
        }
        if (m.components() != null) {
            m.components()
                    .forEach((n, c) -> t.add(tag(
                            "kiln:component:" + n,
                            c.version()
                                    + (c.packageVersion() != null
                                                    && !c.packageVersion().equals(c.version())
                                            ? " (" + c.packageVersion() + ")"
                                            : ""))));
        }
        return t;
    }

    /** The tags with kiln:state, placed among the identity tags so that {@link #limit} keeps it. */
    static List<Tag> withState(List<Tag> tags, String state) {
        List<Tag> t = new ArrayList<>(tags);
        t.add(2, tag(STATE, state));
        return t;
    }

    /**
     * EC2's 50-tag limit: the kiln: identity tags come first, component tags past the limit are
     * left out.
     */
    static List<Tag> limit(List<Tag> tags) {
        return tags.size() <= MAX_TAGS ? tags : tags.subList(0, MAX_TAGS);
    }

    static String value(List<Tag> tags, String key) {
        for (Tag t : tags) {
            if (t.key().equals(key)) {
                return t.value();
            }
        }
        return null;
    }

    /** The description of a snapshot or AMI (EC2 allows 255 characters). */
    static String description(Manifest m) {
        String d = "kiln image "
                + m.ref()
                + (m.kernel() != null ? ", kernel " + m.kernel().release() : "");
        return d.length() > 255 ? d.substring(0, 255) : d;
    }
}
