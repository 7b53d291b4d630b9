package io.wgcni.wg.ip;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.io.Packet;
import java.util.HexFormat;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class ChecksumTest {

    /** The IPv4 header of the Wikipedia/RFC 1071 worked example: its checksum is 0xb861. */
    @Test
    void ipv4HeaderVector() {
        byte[] h = HexFormat.of().parseHex("450000730000400040110000c0a80001c0a800c7");
        Checksum.setIpv4Header(h, 0, 20);
        assertEquals(0xb861, IpHeader.u16(h, 10));
        assertEquals(0xffff, Checksum.fold(Checksum.sum(h, 0, 20)));
    }

    @Property(tries = 500)
    void sumMatchesTheDefinitionAtEveryOffsetAndLength(@ForAll @Size(max = 3000) byte[] data,
            @ForAll @IntRange(max = 7) int skip) {
        byte[] shifted = new byte[data.length + skip];
        System.arraycopy(data, 0, shifted, skip, data.length);
        assertEquals(TestPackets.fold(TestPackets.referenceSum(data)),
                Checksum.fold(Checksum.sum(shifted, skip, data.length)));
    }

    @Test
    void allOnesFoldsToOnes() {
        byte[] ones = new byte[65536];
        java.util.Arrays.fill(ones, (byte) 0xff);
        assertEquals(0xffff, Checksum.fold(Checksum.sum(ones, 0, ones.length)));
    }

    @Test
    void transportChecksumsOfBuiltPacketsVerify() {
        for (int v : new int[] {4, 6}) {
            Packet t = TestPackets.tcp(v, 1, 2, TestPackets.ACK, new byte[12], TestPackets.payload(1000, v));
            Packet u = TestPackets.udp(v, TestPackets.payload(333, v));
            int ipLen = v == 4 ? 20 : 40;
            assertTrue(Checksum.transportValid(t.buf, t.offset, v, ipLen, 6, t.length));
            assertTrue(Checksum.transportValid(u.buf, u.offset, v, ipLen, 17, u.length));
            t.buf[t.end() - 1] ^= 1;
            assertFalse(Checksum.transportValid(t.buf, t.offset, v, ipLen, 6, t.length));
        }
    }

    @Test
    void aZeroUdpChecksumOverIpv4MeansNone() {
        Packet u = TestPackets.udp(4, TestPackets.payload(40, 1));
        IpHeader.putU16(u.buf, u.offset + 20 + 6, 0);
        assertTrue(Checksum.transportValid(u.buf, u.offset, 4, 20, 17, u.length));
    }

    @Property(tries = 300)
    void ttlDecrementKeepsTheHeaderChecksumRight(@ForAll @IntRange(min = 2, max = 255) int ttl,
            @ForAll @IntRange(max = 255) int protocol, @ForAll @Size(20) byte[] header) {
        header[0] = 0x45;
        header[8] = (byte) ttl;
        header[9] = (byte) protocol;
        Checksum.setIpv4Header(header, 0, 20);
        assertTrue(IpHeader.decrementTtl(header, 0, 4));
        assertEquals(ttl - 1, header[8] & 0xff);
        assertEquals(0xffff, Checksum.fold(Checksum.sum(header, 0, 20)));
    }

    @Test
    void ttlOfOneIsNotForwarded() {
        byte[] h = HexFormat.of().parseHex("450000730000400001110000c0a80001c0a800c7");
        Checksum.setIpv4Header(h, 0, 20);
        byte[] before = h.clone();
        assertFalse(IpHeader.decrementTtl(h, 0, 4));
        assertEquals(HexFormat.of().formatHex(before), HexFormat.of().formatHex(h));
        byte[] v6 = new byte[40];
        v6[0] = 0x60;
        v6[7] = 2;
        assertTrue(IpHeader.decrementTtl(v6, 0, 6));
        assertEquals(1, v6[7]);
        assertFalse(IpHeader.decrementTtl(v6, 0, 6));
    }

    @Test
    void checkedLengthCutsPaddingAndRefusesWhatIsNoIpPacket() {
        Packet t = TestPackets.tcp(4, 1, 2, TestPackets.ACK, new byte[0], new byte[10]);
        assertEquals(50, IpHeader.checkedLength(t.buf, t.offset, 64)); // 14 bytes of padding behind
        assertEquals(-1, IpHeader.checkedLength(t.buf, t.offset, 49)); // says 50, only 49 there
        assertEquals(-1, IpHeader.checkedLength(new byte[] {0x45, 0, 0, 10}, 0, 4));
        byte[] badIhl = TestPackets.bytes(t);
        badIhl[0] = 0x44;
        assertEquals(-1, IpHeader.checkedLength(badIhl, 0, badIhl.length));
        assertEquals(-1, IpHeader.checkedLength(new byte[] {0x10, 0, 0, 0}, 0, 4));
    }
}
