package io.wgcni.wg.ip;

import static io.wgcni.wg.ip.TestPackets.ACK;
import static io.wgcni.wg.ip.TestPackets.PSH;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.io.Packet;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CoalescerTest {
    private final Coalescer coalescer = new Coalescer(128, 8);

    /** Segments of one flow, {@code mss} payload each (the last {@code last}), starting at sequence 1000. */
    static List<Packet> segments(int version, int count, int mss, int last, byte[] options) {
        List<Packet> ps = new ArrayList<>();
        int seq = 1000;
        for (int i = 0; i < count; i++) {
            int len = i == count - 1 ? last : mss;
            ps.add(TestPackets.tcp(version, seq, 5555, ACK, options, TestPackets.payload(len, i)));
            seq += len;
        }
        return ps;
    }

    private static int run(Coalescer c, List<Packet> in, Packet[] out, boolean udp) {
        return c.coalesce(in.toArray(new Packet[0]), in.size(), out, udp);
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 6})
    void inOrderSegmentsBecomeOneSuperpacketThatSplitsBackExactly(int version) {
        List<Packet> in = segments(version, 10, 1300, 700, SegmenterTest.padded(SegmenterTest.OPTIONS));
        List<byte[]> originals = in.stream().map(TestPackets::bytes).toList();
        Packet[] out = new Packet[128];
        assertEquals(1, run(coalescer, in, out, false));
        Packet sp = out[0];
        assertEquals(version == 4 ? Packet.GSO_TCP4 : Packet.GSO_TCP6, sp.gso);
        assertEquals(1300, sp.gsoSize);
        assertTrue(sp.partialChecksum);
        assertEquals(version == 4 ? 20 : 40, sp.checksumStart);
        assertEquals(16, sp.checksumOffset);
        Packet[] again = TestPackets.packets(16);
        assertEquals(10, Segmenter.split(sp, 0, again, 0, 16));
        for (int i = 0; i < 10; i++) {
            byte[] a = originals.get(i);
            byte[] b = TestPackets.bytes(again[i]);
            if (version == 4) { // the split counts identification up from the first segment's
                a[4] = b[4];
                a[5] = b[5];
                a[10] = b[10];
                a[11] = b[11];
            }
            assertArrayEquals(a, b, "segment " + i);
        }
    }

    @Test
    void pshEndsASuperpacketAndIsKept() {
        List<Packet> in = segments(4, 6, 1000, 1000, new byte[0]);
        Packet third = in.get(2);
        third.buf[third.offset + 20 + 13] = (byte) (ACK | PSH);
        fixChecksum(third);
        Packet[] out = new Packet[128];
        assertEquals(2, run(coalescer, in, out, false));
        assertEquals(3000 + 40, out[0].length);
        assertEquals(PSH, out[0].buf[out[0].offset + 20 + 13] & PSH);
        assertEquals(3000 + 40, out[1].length);
    }

    @Test
    void aShortSegmentEndsASuperpacket() {
        List<Packet> in = new ArrayList<>(segments(4, 3, 1000, 500, new byte[0]));
        in.add(TestPackets.tcp(4, 1000 + 2500, 5555, ACK, new byte[0], new byte[1000]));
        Packet[] out = new Packet[128];
        assertEquals(2, run(coalescer, in, out, false));
        assertEquals(40 + 2500, out[0].length);
        assertEquals(Packet.GSO_NONE, out[1].gso);
    }

    @Test
    void whatTheRulesForbidPassesThroughUntouchedAndInOrder() {
        List<Packet> in = new ArrayList<>();
        in.add(TestPackets.tcp(4, 1000, 1, ACK, new byte[0], new byte[100]));
        in.add(TestPackets.tcp(4, 1100, 2, ACK, new byte[0], new byte[100])); // another ACK number
        in.add(TestPackets.tcp(4, 1300, 2, ACK, new byte[0], new byte[100])); // a gap
        in.add(TestPackets.tcp(4, 40001, 1400, 1, ACK, new byte[0], new byte[100])); // another port
        in.add(TestPackets.tcp(4, 2000, 3, ACK | 0x02 /* SYN */, new byte[0], new byte[100]));
        in.add(TestPackets.tcp(4, 2100, 3, ACK, new byte[0], new byte[0])); // no payload
        in.add(TestPackets.udp(4, new byte[100])); // UDP, not merged by this coalescer
        in.add(TestPackets.udp(4, new byte[100]));
        Packet[] out = new Packet[128];
        Packet[] arr = in.toArray(new Packet[0]);
        assertEquals(in.size(), coalescer.coalesce(arr, arr.length, out, false));
        for (int i = 0; i < in.size(); i++) {
            assertSame(in.get(i), out[i]);
            assertEquals(Packet.GSO_NONE, out[i].gso);
        }
    }

    @Test
    void differentOptionsOrTtlDoNotMerge() {
        Packet a = TestPackets.tcp(4, 1000, 1, ACK, new byte[] {1, 1, 1, 1}, new byte[100]);
        Packet b = TestPackets.tcp(4, 1100, 1, ACK, new byte[] {1, 1, 1, 0}, new byte[100]);
        Packet c = TestPackets.tcp(4, 1100, 1, ACK, new byte[] {1, 1, 1, 1}, new byte[100]);
        c.buf[c.offset + 8] = 63;
        fixIpv4Header(c);
        Packet[] out = new Packet[8];
        assertEquals(2, coalescer.coalesce(new Packet[] {a, b}, 2, out, false));
        assertEquals(2, coalescer.coalesce(new Packet[] {a, c}, 2, out, false));
    }

    @Test
    void aBadChecksumIsNeverMergedButPassedOnForTheKernelToDrop() {
        List<Packet> in = segments(4, 4, 1000, 1000, new byte[0]);
        in.get(2).buf[in.get(2).end() - 1] ^= 0x55;
        Packet[] out = new Packet[128];
        assertEquals(3, run(coalescer, in, out, false));
        assertEquals(40 + 2000, out[0].length);
        assertSame(in.get(2), out[1]);
        assertSame(in.get(3), out[2], "the segment after the gap it left starts nothing new with the old item");
    }

    @Test
    void interleavedFlowsEachMerge() {
        List<Packet> in = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            in.add(TestPackets.tcp(4, 40000, 1000 + i * 100, 1, ACK, new byte[0], new byte[100]));
            in.add(TestPackets.tcp(6, 40000, 5000 + i * 100, 1, ACK, new byte[0], new byte[100]));
        }
        Packet[] out = new Packet[128];
        assertEquals(2, run(coalescer, in, out, false));
        assertEquals(Packet.GSO_TCP4, out[0].gso);
        assertEquals(Packet.GSO_TCP6, out[1].gso);
        assertEquals(40 + 400, out[0].length);
    }

    @Test
    void runsOutOfMergeBuffersGracefully() {
        Coalescer small = new Coalescer(128, 1);
        List<Packet> in = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            in.add(TestPackets.tcp(4, 40000, 1000 + i * 100, 1, ACK, new byte[0], new byte[100]));
            in.add(TestPackets.tcp(4, 40001, 5000 + i * 100, 1, ACK, new byte[0], new byte[100]));
        }
        Packet[] out = new Packet[128];
        assertEquals(3, run(small, in, out, false));
    }

    @Test
    void udpMergesOnlyIntoTheNewestOfItsFlow() {
        List<Packet> in = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            in.add(TestPackets.udp(4, TestPackets.payload(1200, i)));
        }
        in.add(TestPackets.udp(6, TestPackets.payload(1200, 9)));
        Packet[] out = new Packet[128];
        assertEquals(2, run(coalescer, in, out, true));
        assertEquals(Packet.GSO_UDP, out[0].gso);
        assertEquals(1200, out[0].gsoSize);
        assertEquals(20 + 8 + 6000, out[0].length);
        assertEquals(8 + 6000, IpHeader.u16(out[0].buf, out[0].offset + 20 + 4));
        Packet[] split = TestPackets.packets(8);
        assertEquals(5, Segmenter.split(out[0], 0, split, 0, 8));
        for (int i = 0; i < 5; i++) {
            assertTrue(TestPackets.checksumsCorrect(split[i]));
        }
    }

    @Test
    void udpStopsAtSixtyFourDatagrams() {
        List<Packet> in = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            in.add(TestPackets.udp(4, new byte[100]));
        }
        Packet[] out = new Packet[128];
        assertEquals(2, run(coalescer, in, out, true));
        assertEquals(20 + 8 + 6400, out[0].length);
    }

    @Property(tries = 200)
    void splitThenCoalesceIsTheIdentityOnTheStream(@ForAll @IntRange(min = 1, max = 60000) int payloadLength,
            @ForAll @IntRange(min = 536, max = 1440) int mss, @ForAll boolean v6) {
        int version = v6 ? 6 : 4;
        byte[] payload = TestPackets.payload(payloadLength, payloadLength);
        Packet sp = TestPackets.tsoSuperpacket(version, 42, ACK, new byte[0], payload, mss);
        Packet[] segs = TestPackets.packets(128);
        int n = Segmenter.split(sp, 0, segs, 0, 128);
        Packet[] out = new Packet[128];
        assertEquals(1, coalescer.coalesce(segs, n, out, false));
        int headers = (v6 ? 40 : 20) + 20;
        assertArrayEquals(payload, java.util.Arrays.copyOfRange(out[0].buf, out[0].offset + headers, out[0].end()));
        assertEquals(n == 1 ? Packet.GSO_NONE : (v6 ? Packet.GSO_TCP6 : Packet.GSO_TCP4), out[0].gso);
    }

    private static void fixChecksum(Packet p) {
        int version = (p.buf[p.offset] & 0xf0) >>> 4;
        int ipLen = version == 4 ? 20 : 40;
        IpHeader.putU16(p.buf, p.offset + ipLen + 16, 0);
        long sum = Checksum.pseudoHeader(p.buf, p.offset, version, 6, p.length - ipLen)
                + Checksum.sum(p.buf, p.offset + ipLen, p.length - ipLen);
        IpHeader.putU16(p.buf, p.offset + ipLen + 16, Checksum.finish(sum));
    }

    private static void fixIpv4Header(Packet p) {
        Checksum.setIpv4Header(p.buf, p.offset, 20);
    }
}
