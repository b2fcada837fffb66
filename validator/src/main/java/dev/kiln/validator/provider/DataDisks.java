package dev.kiln.validator.provider;

import dev.kiln.machines.qemu.DataDisk;
import dev.kiln.machines.qemu.DiskOverlay;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Which data disks each QEMU machine of a run gets ({@code kiln validate --data-disk 8G}, {@code
 * kiln lab up --data-disk 8G}): {@code each} for every machine, or a node's own list in {@code
 * byNode} (tests give one node two disks, or a disk with someone else's filesystem). The files live
 * in the node's directory under the run directory and go with it. Containers have no block
 * devices: the container provider ignores these, and its nodes say their storage was skipped.
 */
public record DataDisks(List<DataDisk> each, Map<String, List<DataDisk>> byNode) {
    public static final DataDisks NONE = new DataDisks(List.of(), Map.of());

    public DataDisks {
        each = each == null ? List.of() : List.copyOf(each);
        byNode = byNode == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(byNode));
    }

    /** One blank disk per size, on every machine. */
    public static DataDisks each(List<Long> sizes) {
        return new DataDisks(sizes.stream().map(DataDisk::blank).toList(), Map.of());
    }

    /** The same, with {@code node}'s disks replaced by {@code disks}. */
    public DataDisks with(String node, List<DataDisk> disks) {
        Map<String, List<DataDisk>> m = new LinkedHashMap<>(byNode);
        m.put(node, List.copyOf(disks));
        return new DataDisks(each, m);
    }

    public List<DataDisk> of(String node) {
        return byNode.getOrDefault(node, each);
    }

    public boolean isEmpty() {
        return each.isEmpty() && byNode.values().stream().allMatch(List::isEmpty);
    }

    /** "8G data disk(s) each" for the step lines; empty when none. */
    public String describe() {
        if (isEmpty()) {
            return "";
        }
        String all = each.isEmpty()
                ? "no data disk"
                : each.stream().map(DataDisk::toString).collect(Collectors.joining(" + ")) + " data disk(s)";
        String own = byNode.entrySet().stream()
                .map(e -> e.getKey()
                        + ": "
                        + (e.getValue().isEmpty()
                                ? "none"
                                : e.getValue().stream().map(DataDisk::toString).collect(Collectors.joining(" + "))))
                .collect(Collectors.joining(", "));
        return all + " each" + (own.isEmpty() ? "" : " (" + own + ")");
    }

    /** Parses --data-disk values (8G, 512M, ...); {@code option} names the option in errors. */
    public static DataDisks parse(List<String> sizes, String option) {
        if (sizes == null || sizes.isEmpty()) {
            return NONE;
        }
        return each(sizes.stream().map(s -> DiskOverlay.parseSize(s, option)).toList());
    }
}
