package dev.kiln.fleet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.fleet.ByteRange.Kind;
import org.junit.jupiter.api.Test;

class ByteRangeTest {
    @Test
    void singleRangesInEveryForm() {
        assertThat(ByteRange.of("bytes=0-9", 100)).isEqualTo(new ByteRange(Kind.PARTIAL, 0, 9));
        assertThat(ByteRange.of("bytes=10-", 100)).isEqualTo(new ByteRange(Kind.PARTIAL, 10, 99));
        assertThat(ByteRange.of("bytes=-10", 100)).isEqualTo(new ByteRange(Kind.PARTIAL, 90, 99));
        assertThat(ByteRange.of("bytes=-1000", 100)).isEqualTo(new ByteRange(Kind.PARTIAL, 0, 99));
        assertThat(ByteRange.of("bytes=50-1000", 100)).isEqualTo(new ByteRange(Kind.PARTIAL, 50, 99));
        assertThat(ByteRange.of("bytes=0-99999999999999999999999", 100)).isEqualTo(new ByteRange(Kind.PARTIAL, 0, 99));
    }

    @Test
    void unsatisfiableRanges() {
        assertThat(ByteRange.of("bytes=100-", 100).kind()).isEqualTo(Kind.UNSATISFIABLE);
        assertThat(ByteRange.of("bytes=100-200", 100).kind()).isEqualTo(Kind.UNSATISFIABLE);
        assertThat(ByteRange.of("bytes=-0", 100).kind()).isEqualTo(Kind.UNSATISFIABLE);
        assertThat(ByteRange.of("bytes=0-", 0).kind()).isEqualTo(Kind.UNSATISFIABLE);
    }

    @Test
    void headersThatDoNotParseOrAskForSeveralRangesGetTheWholeFile() {
        assertThat(ByteRange.of(null, 100)).isEqualTo(ByteRange.whole(100));
        assertThat(ByteRange.of("items=0-9", 100).kind()).isEqualTo(Kind.WHOLE);
        assertThat(ByteRange.of("bytes=9-0", 100).kind()).isEqualTo(Kind.WHOLE);
        assertThat(ByteRange.of("bytes=a-b", 100).kind()).isEqualTo(Kind.WHOLE);
        assertThat(ByteRange.of("bytes=0-1,5-6", 100).kind()).isEqualTo(Kind.WHOLE);
    }
}
