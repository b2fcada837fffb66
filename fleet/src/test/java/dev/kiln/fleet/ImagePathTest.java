package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.store.ImageRef;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ImagePathTest {
    @Test
    void aPlainPathNamesAnImageAndAnArtifact() throws Exception {
        ImagePath p = ImagePath.parse("debian-node/1.0.0-20261127.1/pxe/rootfs.squashfs");
        assertThat(p.image()).isEqualTo(new ImageRef("debian-node", "1.0.0-20261127.1"));
        assertThat(p.relative()).isEqualTo("pxe/rootfs.squashfs");
        assertThat(ImagePath.parse("n/v/pxe%2Dx").relative()).isEqualTo("pxe-x");
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "n/v/../../../etc/passwd",
                "n/v/pxe/../../x",
                "n/v/./manifest.json",
                "../v/pxe/vmlinuz",
                "n/../pxe/vmlinuz",
                "n/v/%2e%2e/%2e%2e/etc/passwd",
                "n/v/%2E%2E/x",
                "n/v/.%2e/x",
                "n/v/..%2f..%2fetc%2fpasswd",
                "n/v/pxe%2fvmlinuz",
                "n/v/%252e%252e/%252e%252e/etc/passwd",
                "n/v/%25252e/x",
                "n/v//etc/passwd",
                "n/v/pxe//vmlinuz",
                "n/v/",
                "n/v/..\\..\\etc\\passwd",
                "n/v/%5c..%5cx",
                "n/v/vmlinuz%00.txt",
                "n/v/a%0ab",
                "n/v/%",
                "n/v/%zz",
                "n/v/%c0%ae%c0%ae/x",
                "n/v",
                "N/v/x",
                ".staging/v/x"
            })
    void traversalAndAmbiguousPathsAreRefused(String raw) {
        assertThatThrownBy(() -> ImagePath.parse(raw)).isInstanceOf(ImagePath.BadPath.class);
    }
}
