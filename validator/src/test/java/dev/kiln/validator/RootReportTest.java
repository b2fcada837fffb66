package dev.kiln.validator;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What a node's "booted" report says about its disk root, and when the summary shows it. */
class RootReportTest {
    static final String GROWN = "grown 1.7G -> 7.7G (/dev/nvme0n1p3 fills the 8.0G disk /dev/nvme0n1)";

    @Test
    void theRootIsWhatFollowsTheLastRootMarkOfTheBootedDetail() {
        assertThat(RootReport.of(
                        "debian-node 1.0.0, kernel 6.1.0-50-cloud-amd64, metadata from EC2 user data; root " + GROWN))
                .isEqualTo(GROWN);
        assertThat(RootReport.of("node; root x, kernel k, metadata from http://s; root unchanged 7.7G (...)"))
                .isEqualTo("unchanged 7.7G (...)");
        assertThat(RootReport.of("debian-node 1.0.0, kernel 6.1, metadata from http://10.0.0.1:8080"))
                .isNull();
        assertThat(RootReport.of(null)).isNull();
    }

    @Test
    void theSummaryShowsGrownAndFailedRootsButNotNetworkRoots() {
        assertThat(RootReport.worthShowing(GROWN)).isTrue();
        assertThat(RootReport.worthShowing("unchanged 7.7G (/dev/vda3 fills the 8.0G disk /dev/vda)"))
                .isTrue();
        assertThat(RootReport.worthShowing("not grown: FAILED: could not grow partition 3 of /dev/vda"))
                .isTrue();
        assertThat(RootReport.worthShowing("not grown: network root, nothing on a disk to grow"))
                .isFalse();
        assertThat(RootReport.worthShowing(null)).isFalse();

        ValidationReport r = new ValidationReport(
                1,
                "node:1.0",
                "x",
                "qemu-disk",
                1,
                0,
                "kv000001",
                "t",
                12.5,
                ValidationReport.VALIDATED,
                null,
                List.of(),
                List.of(new ValidationReport.Node(
                        "m1",
                        "init-master",
                        "10.0.0.10",
                        "52:54:00:00:00:01",
                        "6.1",
                        Map.of("booted", 3.0),
                        null,
                        List.of(),
                        null,
                        GROWN)),
                List.of());
        assertThat(ReportWriter.summary(r))
                .containsSequence(ReportWriter.summary(r).get(1), "      root " + GROWN);
    }
}
