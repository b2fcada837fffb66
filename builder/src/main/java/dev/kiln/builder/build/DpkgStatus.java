package dev.kiln.builder.build;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Installed packages of an image, read from its /var/lib/dpkg/status. */
final class DpkgStatus {
    private DpkgStatus() {}

    /** name → version of every package in state "install ok installed". */
    static Map<String, String> installed(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        String pkg = null;
        String version = null;
        boolean installed = false;
        for (String line : Files.readAllLines(root.resolve("var/lib/dpkg/status"))) {
            if (line.isEmpty()) {
                if (pkg != null && installed && version != null) {
                    out.put(pkg, version);
                }
                pkg = null;
                version = null;
                installed = false;
            } else if (line.startsWith("Package: ")) {
                pkg = line.substring(9).trim();
            } else if (line.startsWith("Version: ")) {
                version = line.substring(9).trim();
            } else if (line.startsWith("Status: ")) {
                installed = line.trim().endsWith(" installed") && line.contains("install ok");
            }
        }
        if (pkg != null && installed && version != null) {
            out.put(pkg, version);
        }
        return out;
    }
}
