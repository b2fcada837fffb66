package dev.kiln.builder.spec;

import dev.kiln.builder.spec.ImageSpec.Match;
import dev.kiln.builder.spec.ImageSpec.Storage;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The spec's {@code storage:} section: its static checks, and the normalized form the node reads
 * from {@code /etc/kiln/storage.json} (and the manifest records). The node side is {@code
 * /usr/lib/kiln/kiln-storage}, which the agent runs before any service that uses the disk starts.
 */
public final class StorageSpec {
    /** Where the image carries the normalized section for kiln-storage. */
    public static final String IMAGE_FILE = "/etc/kiln/storage.json";

    public static final Set<String> FILESYSTEMS = Set.of("ext4", "xfs");
    public static final Set<String> WIPES = Set.of("on-reimage", "never");
    public static final Set<String> PICKS = Set.of("only", "largest", "smallest");
    static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,30}");
    static final Pattern SIZE = Pattern.compile("([0-9]+)([KMGT])i?B?", Pattern.CASE_INSENSITIVE);
    static final Pattern LABEL = Pattern.compile("[A-Za-z0-9_-]+");
    static final Pattern PATH = Pattern.compile("(/[A-Za-z0-9._@+-]+)+");
    static final Pattern RULE = Pattern.compile("[A-Za-z0-9 ._:*?+,/@\\[\\]-]+");

    /** Paths that belong to the image or the kernel: never a mount point or bind target. */
    static final List<String> SYSTEM =
            List.of("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/boot", "/proc", "/sys", "/dev", "/run");

    private StorageSpec() {}

    /** Reports every problem of {@code storage} as (field, message). */
    static void check(List<Storage> storage, BiConsumer<String, String> problem) {
        Set<String> names = new HashSet<>();
        Map<String, String> paths = new LinkedHashMap<>();
        for (int i = 0; i < storage.size(); i++) {
            Storage s = storage.get(i);
            String f = "storage[" + i + "]";
            if (!NAME.matcher(s.name()).matches()) {
                problem.accept(
                        f + ".name", "expected lower-case letters, digits and '-' (like data), got '" + s.name() + "'");
            } else if (!names.add(s.name())) {
                problem.accept(f + ".name", "duplicate storage name '" + s.name() + "'");
            }
            match(f + ".match", s.match(), problem);
            if (!FILESYSTEMS.contains(s.filesystem())) {
                problem.accept(f + ".filesystem", "expected ext4 or xfs, got '" + s.filesystem() + "'");
            }
            int maxLabel = "xfs".equals(s.filesystem()) ? 12 : 16;
            if (s.label() == null
                    || !LABEL.matcher(s.label()).matches()
                    || s.label().length() > maxLabel) {
                problem.accept(
                        f + ".label",
                        "expected a filesystem label of letters, digits, '-' and '_', at most "
                                + maxLabel
                                + " characters for "
                                + s.filesystem()
                                + ", got '"
                                + s.label()
                                + "'");
            }
            if (!WIPES.contains(s.wipe())) {
                problem.accept(
                        f + ".wipe",
                        "expected on-reimage (keep on reboots, wipe when a rollout replaces the node) or never, got '"
                                + s.wipe()
                                + "'");
            }
            path(f + ".mount", s.mount(), "mount point", paths, problem);
            for (int j = 0; j < s.binds().size(); j++) {
                String b = s.binds().get(j);
                String bf = f + ".binds[" + j + "]";
                path(bf, b, "bind target", paths, problem);
            }
        }
    }

    private static void match(String f, Match m, BiConsumer<String, String> problem) {
        Long min = size(f + ".minSize", m.minSize(), problem);
        Long max = size(f + ".maxSize", m.maxSize(), problem);
        if (min != null && max != null && min > max) {
            problem.accept(f + ".maxSize", "is smaller than minSize " + m.minSize());
        }
        if (m.minSize() == null
                && m.maxSize() == null
                && m.serial() == null
                && m.byPath() == null
                && m.model() == null) {
            problem.accept(
                    f,
                    "expected at least one rule (minSize, maxSize, serial, byPath, model): kiln never takes a disk"
                            + " just because it is there");
        }
        for (Map.Entry<String, String> rule : rules(m).entrySet()) {
            if (!RULE.matcher(rule.getValue()).matches()) {
                problem.accept(
                        f + "." + rule.getKey(),
                        "expected a shell pattern of letters, digits, space and . _ : * ? + , / @ [ ] -, got '"
                                + rule.getValue()
                                + "'");
            }
        }
        if (!PICKS.contains(m.pick())) {
            problem.accept(
                    f + ".pick",
                    "expected only (several matching disks fail the node), largest or smallest, got '" + m.pick()
                            + "'");
        }
    }

    private static Map<String, String> rules(Match m) {
        Map<String, String> r = new LinkedHashMap<>();
        if (m.serial() != null) {
            r.put("serial", m.serial());
        }
        if (m.byPath() != null) {
            r.put("byPath", m.byPath());
        }
        if (m.model() != null) {
            r.put("model", m.model());
        }
        return r;
    }

    /** True when {@code p} is a usable path; also checks it is not used twice. */
    private static boolean path(
            String f, String p, String what, Map<String, String> seen, BiConsumer<String, String> problem) {
        if (p == null || !PATH.matcher(p).matches() || p.contains("/../") || p.endsWith("/..") || p.contains("/./")) {
            problem.accept(f, "expected an absolute path like /var/lib/etcd for the " + what + ", got '" + p + "'");
            return false;
        }
        for (String sys : SYSTEM) {
            if (p.equals(sys) || p.startsWith(sys + "/")) {
                problem.accept(
                        f, "the " + what + " " + p + " is under " + sys + ", which belongs to the image or the kernel");
                return false;
            }
        }
        for (Map.Entry<String, String> e : seen.entrySet()) {
            String other = e.getKey();
            if (p.equals(other)) {
                problem.accept(f, p + " is already used by " + e.getValue());
                return false;
            }
            // One mount on top of another would hide it, and which comes first would matter.
            if (p.startsWith(other + "/") || other.startsWith(p + "/")) {
                problem.accept(
                        f, p + " and " + other + " (" + e.getValue() + ") are nested; mount or bind disjoint paths");
                return false;
            }
        }
        seen.put(p, f);
        return true;
    }

    /** 8G -> bytes (powers of 1024); null when absent; reports and returns null when malformed. */
    static Long size(String f, String text, BiConsumer<String, String> problem) {
        if (text == null) {
            return null;
        }
        Matcher m = SIZE.matcher(text.strip());
        if (!m.matches()) {
            problem.accept(f, "expected a size like 8G or 512M (K, M, G, T: powers of 1024), got '" + text + "'");
            return null;
        }
        int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            default -> 40;
        };
        return Long.parseLong(m.group(1)) << shift;
    }

    /** What the node reads: defaults filled in, sizes in bytes. Only for a checked spec. */
    public static List<Map<String, Object>> normalized(List<Storage> storage) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Storage s : storage) {
            Map<String, Object> match = new LinkedHashMap<>();
            BiConsumer<String, String> none = (f, m) -> {};
            if (s.match().minSize() != null) {
                match.put("minBytes", size("", s.match().minSize(), none));
            }
            if (s.match().maxSize() != null) {
                match.put("maxBytes", size("", s.match().maxSize(), none));
            }
            match.putAll(rules(s.match()));
            match.put("pick", s.match().pick());
            // The rules as the user wrote them, for the node's messages.
            match.put("text", describe(s.match()));
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", s.name());
            e.put("match", match);
            e.put("filesystem", s.filesystem());
            e.put("label", s.label());
            e.put("mount", s.mount());
            e.put("binds", s.binds());
            e.put("wipe", s.wipe());
            e.put("required", s.required());
            e.put("takeover", s.takeover());
            out.add(e);
        }
        return out;
    }

    static String describe(Match m) {
        List<String> parts = new ArrayList<>();
        if (m.minSize() != null) {
            parts.add("minSize: " + m.minSize());
        }
        if (m.maxSize() != null) {
            parts.add("maxSize: " + m.maxSize());
        }
        rules(m).forEach((k, v) -> parts.add(k + ": " + v));
        parts.add("pick: " + m.pick());
        return "{" + String.join(", ", parts) + "}";
    }
}
