package dev.kiln.builder.build;

import dev.kiln.core.store.Manifest;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A CycloneDX 1.5 SBOM (JSON) of the image: every Debian package and every downloaded component.
 */
final class Sbom {
    static final String FILE = "sbom.cdx.json";

    private Sbom() {}

    static Map<String, Object> of(Manifest m) {
        Map<String, Object> bom = new LinkedHashMap<>();
        bom.put("bomFormat", "CycloneDX");
        bom.put("specVersion", "1.5");
        bom.put(
                "serialNumber",
                "urn:uuid:"
                        + UUID.nameUUIDFromBytes(
                                (m.ref() + m.specSha256() + m.builtAt()).getBytes(StandardCharsets.UTF_8)));
        bom.put("version", 1);
        Map<String, Object> image = new LinkedHashMap<>();
        image.put("type", "operating-system");
        image.put("bom-ref", "image:" + m.ref());
        image.put("name", m.name());
        image.put("version", m.version());
        bom.put(
                "metadata",
                Map.of(
                        "timestamp",
                        m.builtAt(),
                        "tools",
                        Map.of(
                                "components",
                                List.of(Map.of("type", "application", "name", "kiln", "version", m.kilnVersion()))),
                        "component",
                        image));
        List<Map<String, Object>> components = new ArrayList<>();
        String distro = "debian-" + m.base().suite();
        m.packages().forEach((name, version) -> {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("type", "library");
            c.put("name", name);
            c.put("version", version);
            c.put(
                    "purl",
                    "pkg:deb/debian/"
                            + name
                            + "@"
                            + URLEncoder.encode(version, StandardCharsets.UTF_8)
                            + "?arch=amd64&distro="
                            + distro);
            components.add(c);
        });
        m.components().forEach((name, comp) -> {
            if (comp.url() != null) {
                Map<String, Object> c = new LinkedHashMap<>();
                c.put("type", "application");
                c.put("name", name);
                c.put("version", comp.version());
                c.put(
                        "purl",
                        "pkg:generic/"
                                + name
                                + "@"
                                + comp.version()
                                + "?download_url="
                                + URLEncoder.encode(comp.url(), StandardCharsets.UTF_8));
                c.put("hashes", List.of(Map.of("alg", "SHA-256", "content", comp.sha256())));
                components.add(c);
            }
        });
        bom.put("components", components);
        return bom;
    }
}
