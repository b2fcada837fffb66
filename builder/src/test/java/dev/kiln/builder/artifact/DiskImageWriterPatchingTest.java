package dev.kiln.builder.artifact;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Fast checks of the boot sector / core.img patching and grub.cfg generation, on byte arrays only.
 */
class DiskImageWriterPatchingTest {

    /**
     * Looks like GRUB 2.06's boot.img where it matters: jmp at 0, kernel sector, boot drive, drive
     * check.
     */
    private static byte[] fakeBootImg() {
        byte[] b = new byte[512];
        Arrays.fill(b, (byte) 0xcc); // "code" everywhere, so copied regions are visible
        b[0] = (byte) 0xeb;
        b[1] = 0x63;
        b[2] = (byte) 0x90;
        Arrays.fill(b, 0x03, 0x5a, (byte) 0);
        b[0x5a] = 0x00;
        b[0x5b] = (byte) 0x80;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0x5c, 1);
        b[0x64] = (byte) 0xff;
        b[0x66] = (byte) 0xeb; // jmp 3f
        b[0x67] = 0x05;
        b[0x1fe] = 0x55;
        b[0x1ff] = (byte) 0xaa;
        return b;
    }

    /** A protective MBR as sfdisk writes it: zeros, disk signature area, one 0xEE entry, 0x55AA. */
    private static byte[] protectiveMbr() {
        byte[] m = new byte[512];
        for (int i = 0x3; i < 0x5a; i++) {
            m[i] = (byte) (0x40 + i % 7); // pretend there is a BPB to carry over
        }
        m[0x1b8] = 0x12;
        m[0x1b9] = 0x34;
        m[0x1ba] = 0x56;
        m[0x1bb] = 0x78;
        byte[] entry = {
            0x00,
            0x00,
            0x02,
            0x00,
            (byte) 0xee,
            (byte) 0xff,
            (byte) 0xff,
            (byte) 0xff,
            0x01,
            0x00,
            0x00,
            0x00,
            (byte) 0xff,
            (byte) 0xff,
            0x3f,
            0x00
        };
        System.arraycopy(entry, 0, m, 0x1be, entry.length);
        m[0x1fe] = 0x55;
        m[0x1ff] = (byte) 0xaa;
        return m;
    }

    @Test
    void mbrGetsKernelSectorBootDriveAndKeepsPartitionTable() {
        byte[] boot = fakeBootImg();
        byte[] mbr = protectiveMbr();
        byte[] out = GrubBootSector.patchMbr(boot, mbr, 2048);

        ByteBuffer le = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(le.getLong(0x5c)).isEqualTo(2048L);
        assertThat(out[0x64] & 0xff).isEqualTo(0xff);
        assertThat(out[0x66] & 0xff).isEqualTo(0x90);
        assertThat(out[0x67] & 0xff).isEqualTo(0x90);
        // partition table region (disk signature .. signature) comes from the existing MBR
        assertThat(Arrays.copyOfRange(out, 0x1b8, 0x200)).isEqualTo(Arrays.copyOfRange(mbr, 0x1b8, 0x200));
        // BPB region comes from the existing sector, as grub-bios-setup does
        assertThat(Arrays.copyOfRange(out, 0x3, 0x5a)).isEqualTo(Arrays.copyOfRange(mbr, 0x3, 0x5a));
        // GRUB's code is untouched elsewhere
        assertThat(Arrays.copyOfRange(out, 0, 3)).isEqualTo(Arrays.copyOfRange(boot, 0, 3));
        assertThat(Arrays.copyOfRange(out, 0x5a, 0x5c)).isEqualTo(Arrays.copyOfRange(boot, 0x5a, 0x5c));
        assertThat(Arrays.copyOfRange(out, 0x68, 0x1b8)).isEqualTo(Arrays.copyOfRange(boot, 0x68, 0x1b8));
        assertThat(out[0x65]).isEqualTo(boot[0x65]);
        // inputs are not modified
        assertThat(boot[0x66] & 0xff).isEqualTo(0xeb);
    }

    @Test
    void kernelSectorIsWrittenAsFullLittleEndian64() {
        byte[] out = GrubBootSector.patchMbr(fakeBootImg(), protectiveMbr(), 0x0102030405L);
        assertThat(Arrays.copyOfRange(out, 0x5c, 0x64)).containsExactly(0x05, 0x04, 0x03, 0x02, 0x01, 0x00, 0x00, 0x00);
    }

    @Test
    void mbrPatchRejectsForeignInput() {
        byte[] notGrub = fakeBootImg();
        notGrub[0] = 0x33;
        assertThatThrownBy(() -> GrubBootSector.patchMbr(notGrub, protectiveMbr(), 2048))
                .isInstanceOf(IllegalArgumentException.class);
        byte[] noSignature = protectiveMbr();
        noSignature[0x1fe] = 0;
        assertThatThrownBy(() -> GrubBootSector.patchMbr(fakeBootImg(), noSignature, 2048))
                .hasMessageContaining("0x55AA");
        assertThatThrownBy(() -> GrubBootSector.patchMbr(new byte[511], protectiveMbr(), 2048))
                .hasMessageContaining("512");
    }

    /**
     * core.img as grub-mkimage leaves it: diskboot's list pre-filled with {start 2, len n-1, seg
     * 0x820}.
     */
    private static byte[] fakeCoreImg(int length) {
        byte[] core = new byte[length];
        Arrays.fill(core, 0, 0x1c0, (byte) 0xcc); // diskboot code
        Arrays.fill(core, 512, length, (byte) 0xdd); // compressed kernel + modules
        int sectors = (length + 511) / 512;
        ByteBuffer le = ByteBuffer.wrap(core).order(ByteOrder.LITTLE_ENDIAN);
        le.putLong(0x1f4, 2);
        le.putShort(0x1fc, (short) (sectors - 1));
        le.putShort(0x1fe, (short) 0x820);
        return core;
    }

    @Test
    void coreBlocklistPointsAtTheRestOfCoreImg() {
        byte[] core = fakeCoreImg(163_538); // 320 sectors, last one partial
        byte[] out = GrubBootSector.patchCoreImage(core, 2048);

        assertThat(out.length).isEqualTo(320 * 512);
        ByteBuffer le = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(le.getLong(0x1f4)).isEqualTo(2049L);
        assertThat(le.getShort(0x1fc) & 0xffff).isEqualTo(319);
        assertThat(le.getShort(0x1fe) & 0xffff).isEqualTo(0x820);
        // the previous entry is the terminator
        assertThat(Arrays.copyOfRange(out, 0x1e8, 0x1f4)).containsOnly(0);
        // code and payload unchanged, padding is zero
        assertThat(Arrays.copyOfRange(out, 0, 0x1c0)).isEqualTo(Arrays.copyOfRange(core, 0, 0x1c0));
        assertThat(Arrays.copyOfRange(out, 512, core.length)).isEqualTo(Arrays.copyOfRange(core, 512, core.length));
        assertThat(Arrays.copyOfRange(out, core.length, out.length)).containsOnly(0);
    }

    @Test
    void staleBlocklistEntriesAreCleared() {
        byte[] core = fakeCoreImg(4 * 512);
        ByteBuffer le = ByteBuffer.wrap(core).order(ByteOrder.LITTLE_ENDIAN);
        le.putLong(0x1e8, 99); // a second, stale entry
        le.putShort(0x1f0, (short) 7);
        le.putShort(0x1f2, (short) 0x1000);
        byte[] out = GrubBootSector.patchCoreImage(core, 34);
        ByteBuffer o = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(o.getLong(0x1f4)).isEqualTo(35L);
        assertThat(o.getShort(0x1fc)).isEqualTo((short) 3);
        assertThat(Arrays.copyOfRange(out, 0x1e8, 0x1f4)).containsOnly(0);
    }

    @Test
    void coreImgSizeLimits() {
        assertThatThrownBy(() -> GrubBootSector.patchCoreImage(new byte[512], 2048))
                .hasMessageContaining("too small");
        assertThatThrownBy(() -> GrubBootSector.patchCoreImage(fakeCoreImg(889 * 512), 2048))
                .hasMessageContaining("at most 888");
        byte[] noTerminator = new byte[2 * 512];
        for (int pos = 0x1f4; pos > 0; pos -= 12) {
            noTerminator[pos + 8] = 1;
        }
        assertThatThrownBy(() -> GrubBootSector.patchCoreImage(noTerminator, 2048))
                .hasMessageContaining("terminator");
    }

    @Test
    void grubConfigBootsKernelFromEspWithRootByPartuuid() {
        String cfg = GrubConfig.grubConfig(
                "node 'golden' v1",
                "0a1b2c3d-0000-4000-8000-000000000001",
                "console=tty0  console=ttyS0,115200n8 net.ifnames=0 foo=$bar");
        assertThat(cfg)
                .contains("serial --unit=0 --speed=115200")
                .contains("terminal_input serial console")
                .contains("terminal_output serial console")
                .contains("set timeout=1")
                .contains("menuentry 'node '\\''golden'\\'' v1' --id kiln {")
                .contains("\tlinux /vmlinuz root=PARTUUID=0a1b2c3d-0000-4000-8000-000000000001 rw "
                        + "console=tty0 console=ttyS0,115200n8 net.ifnames=0 'foo=$bar'\n")
                .contains("\tinitrd /initrd.img\n");
    }

    @Test
    void cmdlineWithQuotesOrRootIsRefused() {
        assertThatThrownBy(() -> GrubConfig.cmdlineTokens("dyndbg=\"file x +p\""))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("quote");
        assertThatThrownBy(() -> GrubConfig.cmdlineTokens("root=/dev/sda1"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("root=");
        assertThatThrownBy(() -> GrubConfig.cmdlineTokens("a\nb")).isInstanceOf(IllegalArgumentException.class);
        assertThat(GrubConfig.cmdlineTokens("  ")).isEmpty();
    }

    @Test
    void sfdiskScriptDescribesTheLayout() {
        String script = GptLayout.sfdiskScript(
                "11111111-2222-3333-4444-555555555555",
                "11111111-0000-4000-8000-000000000001",
                "11111111-0000-4000-8000-000000000002",
                "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                1_000_000);
        assertThat(script)
                .startsWith("label: gpt\n")
                .contains("label-id: 11111111-2222-3333-4444-555555555555")
                .contains("start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649")
                .contains("start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, "
                        + "uuid=11111111-0000-4000-8000-000000000001, name=\"bios-boot\"")
                .contains("start=4096, size=524288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, "
                        + "uuid=11111111-0000-4000-8000-000000000002")
                .contains("start=528384, size=1000000, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, "
                        + "uuid=AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE, name=\"kiln-root\"");
    }
}
