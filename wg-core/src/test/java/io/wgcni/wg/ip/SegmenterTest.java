package io.wgcni.wg.ip;

import static io.wgcni.wg.ip.TestPackets.ACK;
import static io.wgcni.wg.ip.TestPackets.PSH;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.io.Packet;
import java.io.ByteArrayOutputStream;
import java.util.HexFormat;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SegmenterTest {
    /** NOP NOP timestamps(10), then NOP NOP SACK with one block (10): options every Linux segment may carry. */
    static final byte[] OPTIONS = HexFormat.of().parseHex("0101080a0000abcd000012340101050a000001f4000003e8");

    @ParameterizedTest
    @ValueSource(ints = {4, 6})
    void tcpSuperpacketBecomesMssSegmentsWithEverythingRight(int version) {
        byte[] payload = TestPackets.payload(64000 - 60 - OPTIONS.length, version);
        int mss = 1348;
        Packet sp = TestPackets.tsoSuperpacket(version, 1_000_000, ACK | PSH | 0x01 /* FIN */ | 0x80 /* CWR */,
                padded(OPTIONS), payload, mss);
        Packet[] out = TestPackets.packets(64);
        int n = Segmenter.split(sp, 0, out, 0, 64);
        assertEquals((payload.length + mss - 1) / mss, n);
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        int ipLen = version == 4 ? 20 : 40;
        int th = 20 + padded(OPTIONS).length;
        for (int i = 0; i < n; i++) {
            Packet s = out[i];
            assertEquals(Packet.HEADROOM, s.offset);
            assertEquals(Packet.GSO_NONE, s.gso);
            assertTrue(TestPackets.checksumsCorrect(s), "segment " + i);
            assertEquals(s.length, IpHeader.totalLength(s.buf, s.offset, version));
            int seg = s.length - ipLen - th;
            assertEquals(i < n - 1 ? mss : payload.length - (n - 1) * mss, seg);
            assertEquals(1_000_000 + i * mss, IpHeader.u32(s.buf, s.offset + ipLen + 4));
            int flags = s.buf[s.offset + ipLen + 13] & 0xff;
            assertEquals(i == n - 1, (flags & (PSH | 0x01)) == (PSH | 0x01), "FIN and PSH only last");
            assertEquals(i == 0, (flags & 0x80) != 0, "CWR only first");
            assertTrue((flags & ACK) != 0);
            assertArrayEquals(padded(OPTIONS),
                    java.util.Arrays.copyOfRange(s.buf, s.offset + ipLen + 20, s.offset + ipLen + th), "options kept");
            if (version == 4) {
                assertEquals(0x1234 + i, IpHeader.u16(s.buf, s.offset + 4), "IPv4 identification counts up");
            }
            joined.write(s.buf, s.offset + ipLen + th, seg);
        }
        assertArrayEquals(payload, joined.toByteArray());
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 6})
    void udpSuperpacketBecomesDatagrams(int version) {
        byte[] payload = TestPackets.payload(1280 * 10 + 7, version);
        Packet sp = TestPackets.roomy(TestPackets.udp(version, payload));
        int ipLen = version == 4 ? 20 : 40;
        sp.setGso(Packet.GSO_UDP, 1280).setPartialChecksum(ipLen, 6);
        Packet[] out = TestPackets.packets(16);
        assertEquals(11, Segmenter.split(sp, 0, out, 0, 16));
        for (int i = 0; i < 11; i++) {
            assertTrue(TestPackets.checksumsCorrect(out[i]));
            int len = i < 10 ? 1280 : 7;
            assertEquals(8 + len, IpHeader.u16(out[i].buf, out[i].offset + ipLen + 4));
            assertArrayEquals(java.util.Arrays.copyOfRange(payload, i * 1280, i * 1280 + len),
                    java.util.Arrays.copyOfRange(out[i].buf, out[i].offset + ipLen + 8, out[i].end()));
        }
    }

    @Test
    void cutsInPiecesIntoTheMiddleOfAnArrayWithinItsRoom() {
        byte[] payload = TestPackets.payload(10_000, 5);
        Packet sp = TestPackets.tsoSuperpacket(4, 1, ACK | PSH, new byte[0], payload, 1000);
        Packet[] out = TestPackets.packets(20);
        assertEquals(4, Segmenter.split(sp, 0, out, 5, 4));
        assertEquals(4, Segmenter.split(sp, 4, out, 9, 4));
        assertEquals(2, Segmenter.split(sp, 8, out, 13, 4), "the rest");
        assertEquals(Segmenter.MALFORMED, Segmenter.split(sp, 10, out, 0, 4), "past the last segment");
        assertEquals(3, Segmenter.split(sp, 0, out, 17, 10), "as many as fit in out");
        Segmenter.split(sp, 0, out, 5, 4);
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (int i = 5; i < 15; i++) {
            assertTrue(TestPackets.checksumsCorrect(out[i]));
            assertEquals(1 + (i - 5) * 1000, IpHeader.u32(out[i].buf, out[i].offset + 24));
            assertEquals(i == 14, (out[i].buf[out[i].offset + 33] & PSH) != 0, "PSH on the very last only");
            joined.write(out[i].buf, out[i].offset + 40, out[i].length - 40);
        }
        assertArrayEquals(payload, joined.toByteArray());
    }

    @Test
    void inconsistentMetadataOrHeadersAreRefused() {
        byte[] payload = new byte[5000];
        assertMalformed(
                TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], payload, 1000).setGso(Packet.GSO_TCP6, 1000));
        assertMalformed(
                TestPackets.tsoSuperpacket(6, 1, ACK, new byte[0], payload, 1000).setGso(Packet.GSO_TCP4, 1000));
        assertMalformed(TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], payload, 0));
        Packet wrongStart = TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], payload, 1000);
        wrongStart.checksumStart = 24;
        assertMalformed(wrongStart);
        Packet shortTcp = TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], payload, 1000);
        shortTcp.buf[shortTcp.offset + 20 + 12] = 0x40; // data offset 4 words: below the minimum
        assertMalformed(shortTcp);
        Packet headerOnly = TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], new byte[0], 1000);
        assertMalformed(headerOnly);
        Packet notTcp = TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], payload, 1000);
        notTcp.buf[notTcp.offset + 9] = 17;
        assertMalformed(notTcp);
        Packet hugeOptions = TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], new byte[30], 10);
        hugeOptions.buf[hugeOptions.offset + 20 + 12] = (byte) 0xf0; // 60-byte TCP header: longer than the packet
        assertMalformed(hugeOptions);
    }

    private static void assertMalformed(Packet p) {
        assertEquals(Segmenter.MALFORMED, Segmenter.split(p, 0, TestPackets.packets(64), 0, 64));
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 6})
    void finishesAPartialChecksum(int version) {
        Packet t = TestPackets.tcp(version, 5, 6, ACK | PSH, new byte[0], TestPackets.payload(999, 3));
        byte[] good = TestPackets.bytes(t);
        int ipLen = version == 4 ? 20 : 40;
        // Leave only the pseudo-header's sum in the field, as the kernel's CHECKSUM_PARTIAL does.
        int pseudo = Checksum.fold(Checksum.pseudoHeader(t.buf, t.offset, version, 6, t.length - ipLen));
        IpHeader.putU16(t.buf, t.offset + ipLen + 16, pseudo);
        t.setPartialChecksum(ipLen, 16);
        assertTrue(Segmenter.finishChecksum(t));
        assertArrayEquals(good, TestPackets.bytes(t));
        assertFalse(t.partialChecksum);
        Packet bad = TestPackets.tcp(version, 5, 6, ACK, new byte[0], new byte[4]);
        bad.setPartialChecksum(ipLen, bad.length);
        assertFalse(Segmenter.finishChecksum(bad));
    }

    @Property(tries = 200)
    void anySplitJoinsBackToTheSameStream(@ForAll @IntRange(min = 1, max = 60000) int payloadLength,
            @ForAll @IntRange(min = 536, max = 1440) int mss, @ForAll boolean v6, @ForAll boolean options) {
        int version = v6 ? 6 : 4;
        byte[] opts = options ? padded(OPTIONS) : new byte[0];
        int max = 65535 - (v6 ? 40 : 20) - 20 - opts.length;
        byte[] payload = TestPackets.payload(Math.min(payloadLength, max), payloadLength);
        Packet sp = TestPackets.tsoSuperpacket(version, payloadLength * 7, ACK, opts, payload, mss);
        Packet[] out = TestPackets.packets(128);
        int n = Segmenter.split(sp, 0, out, 0, 128);
        assertEquals((payload.length + mss - 1) / mss, n);
        int headers = (v6 ? 40 : 20) + 20 + opts.length;
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        for (int i = 0; i < n; i++) {
            assertTrue(TestPackets.checksumsCorrect(out[i]));
            joined.write(out[i].buf, out[i].offset + headers, out[i].length - headers);
        }
        assertArrayEquals(payload, joined.toByteArray());
    }

    static byte[] padded(byte[] options) {
        return java.util.Arrays.copyOf(options, (options.length + 3) / 4 * 4);
    }
}
