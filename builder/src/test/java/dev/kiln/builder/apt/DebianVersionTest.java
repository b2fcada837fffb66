package dev.kiln.builder.apt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class DebianVersionTest {
    /**
     * Pairs in ascending order: each first is lower than its second, as dpkg --compare-versions
     * says.
     */
    private static final List<String[]> ASCENDING = List.of(
            new String[] {"1.0", "1:0.1"}, // epoch beats everything
            new String[] {"1:9.9", "2:0.0"},
            new String[] {"1.0~rc1", "1.0"}, // ~ sorts before the end
            new String[] {"1.0~~", "1.0~"},
            new String[] {"1.0~", "1.0"},
            new String[] {"1.0", "1.0a"},
            new String[] {"1.0a", "1.0+"}, // letters before other characters
            new String[] {"1.6.20~ds1-1+deb12u2", "1.6.20~ds1-1+deb12u3"},
            new String[] {"1.6.20~ds1-1+deb12u3", "1.6.20~ds1-1+deb12u10"}, // digit runs compare as numbers
            new String[] {"3.0.17-1~deb12u2", "3.0.17-1"}, // ~deb12u backports below the plain revision
            new String[] {"3.4.23-4", "3.4.23-4+b4"}, // binNMU
            new String[] {"3.4.23-4+b4", "3.4.23-4+b10"},
            new String[] {"3.4.23-4+b4", "3.4.23-5"},
            new String[] {"6.1.176-1", "6.1.192-3"},
            new String[] {"6.1.192-2", "6.1.192-3"},
            new String[] {"6.1.192-3", "6.12.38-1~bpo12+1"},
            new String[] {"2.36.1-8+deb12u1", "2.36.1-8+deb12u2"},
            new String[] {"1.0-1", "1.0-1.1"},
            new String[] {"1.0.0", "1.0.00a"}, // leading zeros do not count
            new String[] {"7.88.1-10+deb12u14", "7.88.1-10+deb12u100"});

    /** Spelt differently, equal to dpkg. */
    private static final List<String[]> EQUAL = List.of(
            new String[] {"0:1.0-1", "1.0-1"}, // epoch 0 is no epoch
            new String[] {"1.01", "1.1"},
            new String[] {"1.2.3", "1.2.3-0"}); // no revision is revision 0

    @Test
    void ordersLikeDpkg() {
        for (String[] p : ASCENDING) {
            assertThat(DebianVersion.compare(p[0], p[1]))
                    .as(p[0] + " < " + p[1])
                    .isNegative();
            assertThat(DebianVersion.compare(p[1], p[0]))
                    .as(p[1] + " > " + p[0])
                    .isPositive();
            assertThat(DebianVersion.parse(p[0]).isNewerThan(DebianVersion.parse(p[1])))
                    .isFalse();
        }
        for (String[] p : EQUAL) {
            assertThat(DebianVersion.compare(p[0], p[1]))
                    .as(p[0] + " = " + p[1])
                    .isZero();
        }
        assertThat(DebianVersion.parse("2:1.6.20~ds1-1+deb12u3").upstream()).isEqualTo("1.6.20~ds1");
        assertThat(DebianVersion.parse("1.0-2-3").upstream())
                .as("the revision is after the last hyphen")
                .isEqualTo("1.0-2");
    }

    /**
     * The same pairs through dpkg itself, where it is installed (every Debian host): the reference.
     */
    @Test
    void agreesWithDpkgItself() throws Exception {
        Path dpkg = Path.of("/usr/bin/dpkg");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(dpkg), "dpkg not installed");
        for (String[] p : java.util.stream.Stream.concat(ASCENDING.stream(), EQUAL.stream())
                .toList()) {
            for (String op : new String[] {"lt", "eq", "gt"}) {
                int ours = DebianVersion.compare(p[0], p[1]);
                boolean expected = op.equals("lt") ? ours < 0 : op.equals("eq") ? ours == 0 : ours > 0;
                assertThat(dpkgSays(p[0], op, p[1]))
                        .as("dpkg --compare-versions " + p[0] + " " + op + " " + p[1])
                        .isEqualTo(expected);
            }
        }
    }

    private static boolean dpkgSays(String a, String op, String b) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("dpkg", "--compare-versions", a, op, b)
                .redirectErrorStream(true)
                .start();
        p.getInputStream().readAllBytes();
        return p.waitFor() == 0;
    }

    @Test
    void refusesWhatIsNotAVersion() {
        assertThatThrownBy(() -> DebianVersion.parse("")).hasMessageContaining("not a Debian version");
        assertThatThrownBy(() -> DebianVersion.parse("a:1.0")).hasMessageContaining("epoch");
        assertThatThrownBy(() -> DebianVersion.parse("1.0-")).hasMessageContaining("revision");
        assertThatThrownBy(() -> DebianVersion.parse("1.0 -1")).hasMessageContaining("not a Debian version");
    }
}
