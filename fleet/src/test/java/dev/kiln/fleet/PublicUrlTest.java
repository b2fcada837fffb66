package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.fleet.PublicUrl.Candidate;
import dev.kiln.fleet.PublicUrl.Decision;
import java.util.List;
import org.junit.jupiter.api.Test;

/** kiln serve --listen 0.0.0.0:PORT never tells nodes http://0.0.0.0:PORT. */
class PublicUrlTest {
    @Test
    void theOnlyAddressIsUsedAndSaidWhy() {
        Decision d = PublicUrl.derive(8080, List.of(new Candidate("10.0.0.2", "eth0")));
        assertThat(d.error()).isNull();
        assertThat(d.url()).isEqualTo("http://10.0.0.2:8080");
        assertThat(d.why()).contains("only IPv4 address", "eth0", "--public-url");
    }

    @Test
    void severalAddressesAreRefusedAndListed() {
        Decision d = PublicUrl.derive(
                8080, List.of(new Candidate("10.0.0.2", "eth0"), new Candidate("172.17.0.1", "docker0")));
        assertThat(d.url()).isNull();
        assertThat(d.error())
                .contains(
                        "--public-url is required",
                        "10.0.0.2 (eth0)",
                        "172.17.0.1 (docker0)",
                        "--public-url http://10.0.0.2:8080");
    }

    @Test
    void noAddressOrPortZeroIsRefused() {
        assertThat(PublicUrl.derive(8080, List.of()).error()).contains("no IPv4 address besides loopback");
        assertThat(PublicUrl.derive(0, List.of(new Candidate("10.0.0.2", "eth0")))
                        .error())
                .contains("port 0");
    }

    @Test
    void wildcardHosts() {
        assertThat(PublicUrl.isWildcard("0.0.0.0")).isTrue();
        assertThat(PublicUrl.isWildcard("::")).isTrue();
        assertThat(PublicUrl.isWildcard("127.0.0.1")).isFalse();
    }
}
