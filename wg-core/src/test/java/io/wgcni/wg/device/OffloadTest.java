package io.wgcni.wg.device;

import static io.wgcni.wg.ip.TestPackets.ACK;
import static io.wgcni.wg.ip.TestPackets.PSH;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.device.Harness.Node;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.IpHeader;
import io.wgcni.wg.ip.Segmenter;
import io.wgcni.wg.ip.TestPackets;
import io.wgcni.wg.noise.Keypair;
import io.wgcni.wg.noise.Protocol;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Superpackets through two devices in memory, with TUN offloads on both sides, on one, or on neither: what leaves
 * is cut into MTU-sized packets before sealing, what arrives is coalesced again where the TUN takes superpackets,
 * and the stream of bytes is the same whatever the combination.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class OffloadTest {
    private static final int MSS = 1380;

    /** A pair whose peers also route TestPackets' addresses (10.0.0.1/2, fd00::1/2) to each other. */
    static Harness pair(boolean offloadA, boolean offloadB) throws Exception {
        Harness h = Harness.pair(offloadA, offloadB);
        Node a = h.get(0);
        Node b = h.get(1);
        a.device.addAllowedIp(a.peer(b), Prefix.parse("10.0.0.2/32"));
        a.device.addAllowedIp(a.peer(b), Prefix.parse("fd00::2/128"));
        b.device.addAllowedIp(b.peer(a), Prefix.parse("10.0.0.1/32"));
        b.device.addAllowedIp(b.peer(a), Prefix.parse("fd00::1/128"));
        return h;
    }

    /** Everything B's TUN got, as one TCP payload stream; each packet (or segment of one) must check out. */
    static byte[] drainStream(Node to, int expectedBytes, int headers) throws InterruptedException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        Packet[] segs = TestPackets.packets(Outbound.TRAIN * 16);
        while (got.size() < expectedBytes) {
            Packet p = to.tun.pollPacket(5_000);
            assertNotNull(p, "got " + got.size() + " of " + expectedBytes + " bytes");
            if (p.gso != Packet.GSO_NONE) {
                assertTrue(to.tun.tcpOffload(), "a superpacket only where the TUN takes them");
                int n = Segmenter.split(p, 0, segs, 0, segs.length);
                for (int i = 0; i < n; i++) {
                    assertTrue(TestPackets.checksumsCorrect(segs[i]), "coalesced segment " + i);
                    got.write(segs[i].buf, segs[i].offset + headers, segs[i].length - headers);
                }
            } else {
                assertTrue(TestPackets.checksumsCorrect(p), "plain packet");
                got.write(p.buf, p.offset + headers, p.length - headers);
            }
        }
        return got.toByteArray();
    }

    @ParameterizedTest(name = "offload A={0} B={1} IPv{2}")
    @CsvSource({"true,true,4", "true,false,4", "false,true,4", "true,true,6", "true,false,6", "false,true,6"})
    void aSuperpacketCrossesWhateverEachSideOffloads(boolean offloadA, boolean offloadB, int version) throws Exception {
        try (Harness h = pair(offloadA, offloadB)) {
            Node a = h.get(0);
            Node b = h.get(1);
            handshake(h, a, b);
            byte[] ts = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}; // NOP NOP timestamps
            int headers = (version == 4 ? 20 : 40) + 20 + ts.length;
            byte[] payload = TestPackets.payload(3 * 21_000, version);
            for (int i = 0; i < 3; i++) {
                byte[] part = java.util.Arrays.copyOfRange(payload, i * 21_000, (i + 1) * 21_000);
                Packet sp = offloadA ? TestPackets.tsoSuperpacket(version, 1 + i * 21_000, ACK | PSH, ts, part, MSS)
                        : null;
                if (sp != null) {
                    a.tun.inject(sp);
                } else {
                    // Without offloads the kernel hands over MSS-sized packets: inject those.
                    Packet whole = TestPackets.tsoSuperpacket(version, 1 + i * 21_000, ACK | PSH, ts, part, MSS);
                    Packet[] segs = TestPackets.packets(32);
                    int n = Segmenter.split(whole, 0, segs, 0, 32);
                    for (int j = 0; j < n; j++) {
                        a.tun.inject(segs[j]);
                    }
                }
            }
            assertArrayEquals(payload, drainStream(b, payload.length, headers));
            assertNull(b.tun.poll(100), "nothing more");
            h.settle();
            assertEquals(0, a.device.stats().receiveDrops() + b.device.stats().receiveDrops()
                    + a.device.stats().invalidInnerPacket.sum());
        }
    }

    @Test
    void datagramsOnTheWireNeverExceedTheMtu() throws Exception {
        try (Harness h = pair(true, true)) {
            Node a = h.get(0);
            Node b = h.get(1);
            handshake(h, a, b);
            int before = h.wire.size();
            a.tun.inject(TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], new byte[60_000], MSS));
            drainStream(b, 60_000, 40);
            h.settle();
            long data = h.wire.stream().skip(before).filter(d -> d.bytes()[0] == Protocol.TYPE_DATA).count();
            assertEquals((60_000 + MSS - 1) / MSS, data, "one datagram per segment");
            assertTrue(h.wire.stream().allMatch(d -> d.bytes().length <= 1420 + Protocol.Data.MIN_SIZE));
        }
    }

    @Test
    void aPartialChecksumIsFinishedBeforeSealing() throws Exception {
        try (Harness h = pair(true, false)) {
            Node a = h.get(0);
            Node b = h.get(1);
            handshake(h, a, b);
            Packet u = TestPackets.udp(4, TestPackets.payload(900, 1));
            byte[] good = TestPackets.bytes(u);
            IpHeader.putU16(u.buf, u.offset + 20 + 6, 0x1234); // the kernel leaves only the pseudo-header sum
            long pseudo = io.wgcni.wg.ip.Checksum.pseudoHeader(u.buf, u.offset, 4, 17, u.length - 20);
            IpHeader.putU16(u.buf, u.offset + 20 + 6, io.wgcni.wg.ip.Checksum.fold(pseudo));
            u.setPartialChecksum(20, 6);
            a.tun.inject(u);
            assertArrayEquals(good, b.tun.poll(5_000));
        }
    }

    @Test
    void aMalformedSuperpacketIsDroppedAndCountedAndNothingElseChanges() throws Exception {
        try (Harness h = pair(true, true)) {
            Node a = h.get(0);
            Node b = h.get(1);
            handshake(h, a, b);
            int before = h.wire.size();
            Packet bad = TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], new byte[5000], 1000);
            bad.setGso(Packet.GSO_TCP6, 1000); // IPv4 header, IPv6 metadata
            a.tun.inject(bad);
            Packet noPayload = TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], new byte[0], 1000);
            a.tun.inject(noPayload);
            h.settle();
            assertEquals(2, a.device.stats().invalidInnerPacket.sum());
            assertEquals(before, h.wire.size(), "nothing sent");
            a.sendTo(b, 7);
            assertNotNull(b.tun.poll(5_000), "the device carries on");
        }
    }

    /**
     * A superpacket of two trains whose session runs out of counters after the first: the second waits for the new
     * session the first one's rekey brings, and the receiver gets every byte, in order.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void aSuperpacketStraddlesARekey(boolean offloadB) throws Exception {
        try (Harness h = pair(true, offloadB)) {
            Node a = h.get(0);
            Node b = h.get(1);
            handshake(h, a, b);
            Keypair first = a.peer(b).currentKeypair();
            first.skipSendCounter(Protocol.REJECT_AFTER_MESSAGES - Outbound.TRAIN);
            h.advance(Protocol.REKEY_TIMEOUT + SECOND); // handshakes are at least REKEY_TIMEOUT apart
            int mss = 536;
            byte[] payload = TestPackets.payload(mss * (Outbound.TRAIN + 20), 99);
            a.tun.inject(TestPackets.tsoSuperpacket(4, 1, ACK, new byte[0], payload, mss));
            assertArrayEquals(payload, drainStream(b, payload.length, 40));
            assertTrue(a.peer(b).currentKeypair() != first, "the rest went under a new session");
            h.settle();
            assertEquals(0, b.device.stats().receiveDrops());
        }
    }

    private static final long SECOND = 1_000_000_000L;

    private static void handshake(Harness h, Node a, Node b) throws InterruptedException {
        a.sendTo(b, 1);
        assertNotNull(b.tun.poll(5_000));
        b.sendTo(a, 2);
        assertNotNull(a.tun.poll(5_000));
        h.settle();
        assertNull(b.tun.poll(), "nothing else arrived");
        assertNull(a.tun.poll(), "nothing else arrived");
    }
}
