package io.wgcni.tun;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.Superpackets;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link LinuxTun}'s virtio_net_hdr framing, over a datagram socket pair standing in for the kernel's end of a TUN
 * opened with offloads (the same read and write code as a real TUN's): whatever the "kernel" hands over with a
 * header that makes no sense is dropped and counted, never delivered; superpackets go out with the header that
 * describes them.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class TunOffloadTest {
    private int kernel;
    private LinuxTun tun;

    @BeforeEach
    void open() throws Exception {
        int[] pair = Syscalls.socketpair(LibC.AF_UNIX, LibC.SOCK_DGRAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        kernel = pair[1];
        tun = LinuxTun.overSocket(pair[0], "offload-test", 1420);
    }

    @AfterEach
    void close() {
        tun.close();
        Syscalls.close(kernel);
    }

    @Test
    void headersThatMakeNoSenseAreDroppedAndCountedAndTheNextPacketIsRead() throws Exception {
        byte[] plain = Superpackets.tcp4(address("10.0.0.1"), address("10.0.0.2"), new byte[100], 1380).buf;
        byte[] ufo = header(VirtioNetHdr.F_NEEDS_CSUM, 3, 1400, 20, 6); // the kernel's legacy UDP fragmentation
        byte[] tsoWithoutChecksum = header(0, VirtioNetHdr.GSO_TCPV4, 1380, 0, 0);
        byte[] unknown = header(VirtioNetHdr.F_NEEDS_CSUM, 0x7f, 1380, 20, 16);
        fromKernel(new byte[5]); // shorter than the header
        fromKernel(new byte[VirtioNetHdr.LENGTH]); // a header and nothing behind it
        fromKernel(concat(ufo, ipPacket(plain)));
        fromKernel(concat(tsoWithoutChecksum, ipPacket(plain)));
        fromKernel(concat(unknown, ipPacket(plain)));
        byte[] good = concat(header(0, 0, 0, 0, 0), ipPacket(plain));
        fromKernel(good);
        Packet[] ps = {new Packet(), new Packet()};
        assertEquals(1, tun.read(ps, 2));
        assertArrayEquals(ipPacket(plain), Arrays.copyOfRange(ps[0].buf, ps[0].offset, ps[0].end()));
        assertEquals(Packet.GSO_NONE, ps[0].gso);
        assertEquals(5, tun.malformedReads());
        assertEquals(5L, tun.drops().get("tun_malformed_read"), "and stats=1 lists them");
    }

    @Test
    void aTsoSuperpacketIsReadWholeWithItsSegmentSizeAndPartialChecksum() throws Exception {
        Packet sp = Superpackets.tcp4(address("10.0.0.1"), address("10.0.0.2"), new byte[20_000], 1380);
        fromKernel(concat(header(VirtioNetHdr.F_NEEDS_CSUM, VirtioNetHdr.GSO_TCPV4, 1380, 20, 16), ipPacket(sp)));
        Packet[] ps = {new Packet()};
        assertEquals(1, tun.read(ps, 1));
        assertEquals(sp.length, ps[0].length);
        assertEquals(Packet.GSO_TCP4, ps[0].gso);
        assertEquals(1380, ps[0].gsoSize);
        assertTrue(ps[0].partialChecksum);
        assertEquals(20, ps[0].checksumStart);
        assertEquals(16, ps[0].checksumOffset);
    }

    @Test
    void aSuperpacketIsWrittenBehindTheHeaderThatDescribesIt() throws Exception {
        Packet sp = Superpackets.tcp4(address("10.0.0.1"), address("10.0.0.2"), new byte[20_000], 1380);
        tun.write(new Packet[] {sp}, 1);
        byte[] in = new byte[Packet.SUPER_CAPACITY];
        long r = Syscalls.read(kernel, in, 0, in.length);
        assertEquals(VirtioNetHdr.LENGTH + sp.length, r);
        Packet back = new Packet();
        assertTrue(VirtioNetHdr.decode(in, 0, back));
        assertEquals(Packet.GSO_TCP4, back.gso);
        assertEquals(1380, back.gsoSize);
        assertEquals(20, back.checksumStart);
        assertEquals(16, back.checksumOffset);
        assertEquals(20 + 20, (in[2] & 0xff) | (in[3] & 0xff) << 8, "hdr_len: IP and TCP headers");
        assertArrayEquals(ipPacket(sp), Arrays.copyOfRange(in, VirtioNetHdr.LENGTH, (int) r));
        assertFalse(tun.droppedWrites() > 0);
    }

    private void fromKernel(byte[] frame) {
        assertEquals(frame.length, Syscalls.write(kernel, frame, 0, frame.length));
    }

    private static byte[] ipPacket(Packet p) {
        return Arrays.copyOfRange(p.buf, p.offset, p.end());
    }

    private static byte[] ipPacket(byte[] superpacketBuffer) {
        Packet p = new Packet(superpacketBuffer);
        int len = (superpacketBuffer[Packet.HEADROOM + 2] & 0xff) << 8 | superpacketBuffer[Packet.HEADROOM + 3] & 0xff;
        return Arrays.copyOfRange(p.buf, Packet.HEADROOM, Packet.HEADROOM + len);
    }

    private static byte[] header(int flags, int gsoType, int gsoSize, int csumStart, int csumOffset) {
        byte[] h = new byte[VirtioNetHdr.LENGTH];
        h[0] = (byte) flags;
        h[1] = (byte) gsoType;
        h[4] = (byte) gsoSize;
        h[5] = (byte) (gsoSize >>> 8);
        h[6] = (byte) csumStart;
        h[8] = (byte) csumOffset;
        return h;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    private static Inet4Address address(String literal) throws Exception {
        return (Inet4Address) InetAddress.getByName(literal);
    }
}
