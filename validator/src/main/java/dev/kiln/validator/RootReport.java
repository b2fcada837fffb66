package dev.kiln.validator;

/**
 * What a node's disk root did at boot: kiln-grow-root's words ("grown 1.7G -> 7.7G (...)",
 * "unchanged 7.7G (...)", "not grown: ..."), which the node agent appends to its "booted" report as
 * "; root WORDS".
 */
final class RootReport {
    private static final String MARK = "; root ";

    private RootReport() {}

    /**
     * The words after "; root " in a "booted" detail, or null when the node said nothing about its
     * root.
     */
    static String of(String bootedDetail) {
        if (bootedDetail == null) {
            return null;
        }
        int i = bootedDetail.lastIndexOf(MARK);
        return i < 0 ? null : bootedDetail.substring(i + MARK.length()).strip();
    }

    /**
     * Worth a line in the summary: a root that was grown or checked, or growing that failed; not
     * the ordinary "nothing to grow" of network roots and containers.
     */
    static boolean worthShowing(String root) {
        return root != null && (!root.startsWith("not grown: ") || root.contains("FAILED"));
    }
}
