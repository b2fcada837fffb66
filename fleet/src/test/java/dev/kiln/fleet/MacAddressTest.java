package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MacAddressTest {
    @Test
    void everyCommonSpellingNormalizesToLowerCaseColons() {
        assertThat(MacAddress.normalize("52:54:00:12:34:0A")).isEqualTo("52:54:00:12:34:0a");
        assertThat(MacAddress.normalize("52-54-00-12-34-0a")).isEqualTo("52:54:00:12:34:0a");
        assertThat(MacAddress.normalize("5254.0012.340A")).isEqualTo("52:54:00:12:34:0a");
        assertThat(MacAddress.normalize("52540012340a")).isEqualTo("52:54:00:12:34:0a");
    }

    @Test
    void malformedAddressesAreRejected() {
        assertThat(MacAddress.normalize(null)).isNull();
        assertThat(MacAddress.normalize("")).isNull();
        assertThat(MacAddress.normalize("52:54:00:12:34")).isNull();
        assertThat(MacAddress.normalize("52:54:00:12:34:0g")).isNull();
        assertThat(MacAddress.normalize("52:54-00:12:34:0a")).isNull();
        assertThat(MacAddress.normalize("525:400:123:40a")).isNull();
        assertThat(MacAddress.normalize("52:54:00:12:34:0a:ff")).isNull();
    }
}
