package dev.kiln.builder.artifact;

import static dev.kiln.builder.artifact.GptLayout.MIB;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.function.DoubleConsumer;

/**
 * Why: the disk image stays sparse, so every partition image is created and copied hole-preserving.
 */
final class SparseFiles {

    static final int BLOCK = 4096;
    private static final byte[] ZERO_BLOCK = new byte[BLOCK];

    private SparseFiles() {}

    static void createSparse(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            if (size > 0) {
                ch.write(ByteBuffer.wrap(new byte[1]), size - 1); // extends with a hole
            }
        }
    }

    /**
     * Copies {@code src} into {@code dst} at {@code offset}, skipping all-zero 4 KiB blocks so that
     * the destination (a fresh, sparse file) keeps its holes. Returns the number of bytes written.
     */
    static long copySparse(Path src, FileChannel dst, long offset, DoubleConsumer progress) throws IOException {
        long written = 0;
        try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ)) {
            long size = in.size();
            byte[] chunk = new byte[4 * (int) MIB];
            ByteBuffer buf = ByteBuffer.wrap(chunk);
            long pos = 0;
            long lastReport = 0;
            while (pos < size) {
                int want = (int) Math.min(chunk.length, size - pos);
                buf.clear().limit(want);
                readFully(in, buf, pos);
                int runStart = -1;
                for (int i = 0; i < want; i += BLOCK) {
                    int end = Math.min(i + BLOCK, want);
                    boolean zero = Arrays.mismatch(chunk, i, end, ZERO_BLOCK, 0, end - i) < 0;
                    if (!zero && runStart < 0) {
                        runStart = i;
                    } else if (zero && runStart >= 0) {
                        written += writeFully(
                                dst, ByteBuffer.wrap(chunk, runStart, i - runStart), offset + pos + runStart);
                        runStart = -1;
                    }
                }
                if (runStart >= 0) {
                    written +=
                            writeFully(dst, ByteBuffer.wrap(chunk, runStart, want - runStart), offset + pos + runStart);
                }
                pos += want;
                if (pos - lastReport >= 64 * MIB || pos == size) {
                    progress.accept(pos);
                    lastReport = pos;
                }
            }
        }
        return written;
    }

    static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long p = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, p);
            if (n < 0) {
                throw new IOException("unexpected end of file at offset " + p);
            }
            p += n;
        }
    }

    static int writeFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        int total = buf.remaining();
        long p = position;
        while (buf.hasRemaining()) {
            p += ch.write(buf, p);
        }
        return total;
    }

    static long roundUp(long value, long unit) {
        return (value + unit - 1) / unit * unit;
    }
}
