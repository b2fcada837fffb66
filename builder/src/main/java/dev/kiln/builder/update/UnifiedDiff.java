package dev.kiln.builder.update;

import java.util.ArrayList;
import java.util.List;

/** A unified diff (3 lines of context) of two small texts, as {@code diff -u} prints it. */
public final class UnifiedDiff {
    private UnifiedDiff() {}

    public static String of(String before, String after, String fromLabel, String toLabel) {
        String[] a = before.split("\n", -1);
        String[] b = after.split("\n", -1);
        // Longest common subsequence table; specs are a few hundred lines.
        int[][] lcs = new int[a.length + 1][b.length + 1];
        for (int i = a.length - 1; i >= 0; i--) {
            for (int j = b.length - 1; j >= 0; j--) {
                lcs[i][j] = a[i].equals(b[j]) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
            }
        }
        // ops: ' ' same, '-' removed, '+' added; with the line numbers in a and b.
        List<char[]> ops = new ArrayList<>();
        List<int[]> at = new ArrayList<>();
        int i = 0;
        int j = 0;
        while (i < a.length || j < b.length) {
            if (i < a.length && j < b.length && a[i].equals(b[j])) {
                ops.add(new char[] {' '});
                at.add(new int[] {i++, j++});
            } else if (i < a.length && (j == b.length || lcs[i + 1][j] >= lcs[i][j + 1])) {
                ops.add(new char[] {'-'}); // removals first, as diff -u prints them
                at.add(new int[] {i++, j});
            } else {
                ops.add(new char[] {'+'});
                at.add(new int[] {i, j++});
            }
        }
        StringBuilder out = new StringBuilder();
        int k = 0;
        while (k < ops.size()) {
            if (ops.get(k)[0] == ' ') {
                k++;
                continue;
            }
            int from = Math.max(0, k - 3);
            int to = k;
            // Extend the hunk while changes are within 6 unchanged lines of each other.
            int lastChange = k;
            while (to < ops.size() && to - lastChange <= 6) {
                if (ops.get(to)[0] != ' ') {
                    lastChange = to;
                }
                to++;
            }
            to = Math.min(ops.size(), lastChange + 4);
            int aStart = at.get(from)[0];
            int bStart = at.get(from)[1];
            int aCount = 0;
            int bCount = 0;
            StringBuilder body = new StringBuilder();
            for (int x = from; x < to; x++) {
                char op = ops.get(x)[0];
                int[] pos = at.get(x);
                String line = op == '+' ? b[pos[1]] : a[pos[0]];
                body.append(op).append(line).append('\n');
                if (op != '+') {
                    aCount++;
                }
                if (op != '-') {
                    bCount++;
                }
            }
            if (out.length() == 0) {
                out.append("--- ")
                        .append(fromLabel)
                        .append('\n')
                        .append("+++ ")
                        .append(toLabel)
                        .append('\n');
            }
            out.append("@@ -")
                    .append(aStart + 1)
                    .append(',')
                    .append(aCount)
                    .append(" +")
                    .append(bStart + 1)
                    .append(',')
                    .append(bCount)
                    .append(" @@\n")
                    .append(body);
            k = to;
        }
        return out.toString();
    }
}
