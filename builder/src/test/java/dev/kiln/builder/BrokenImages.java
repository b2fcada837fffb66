package dev.kiln.builder;

import dev.kiln.core.store.Manifest;

/**
 * debian-node broken on purpose, the two ways a validation must catch: a file uses a placeholder
 * whose metadata key no cluster provides, and a unit that fails at boot.
 */
public final class BrokenImages {
    private BrokenImages() {}

    /** /etc/kiln-resolv.conf needs "dnsServer", which validation's generated metadata lacks. */
    public static Manifest missingMetadata() throws Exception {
        return TestImages.debianNodeVariant(
                "debian-node-nodns",
                spec -> outputs(spec)
                        .replace(
                                "files:\n",
                                "files:\n  - path: /etc/kiln-resolv.conf\n    content: \"nameserver @@dns_server@@\\n\"\n")
                        .replace("placeholders:\n", "placeholders:\n  dns_server: dnsServer\n"));
    }

    /** kiln-broken.service exits 3 at every boot; the spec's units-active check lists it. */
    public static Manifest failingUnit() throws Exception {
        return TestImages.debianNodeVariant(
                "debian-node-badunit",
                spec -> outputs(spec)
                        .replace("files:\n", """
                        files:
                          - path: /etc/systemd/system/kiln-broken.service
                            content: |
                              [Unit]
                              Description=fails on purpose (kiln validation test)
                              [Service]
                              Type=oneshot
                              RemainAfterExit=yes
                              ExecStart=/bin/sh -c 'echo kiln-broken: giving up on purpose; exit 3'
                              [Install]
                              WantedBy=multi-user.target
                        """)
                        .replace("  enable:\n", "  enable:\n    - kiln-broken.service\n")
                        .replace("units: [containerd.service]", "units: [containerd.service, kiln-broken.service]"));
    }

    /** Containers and PXE only: a disk image would only cost build time here. */
    private static String outputs(String spec) {
        return spec.replace("outputs: [pxe, disk, rootfs-tar]", "outputs: [pxe, rootfs-tar]");
    }
}
