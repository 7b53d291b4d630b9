package io.wgcni.wg.ip;

import io.wgcni.wg.io.Packet;
import java.nio.ByteBuffer;

/**
 * TCP and UDP packets over IPv4 and IPv6 with correct checksums, computed here word by word (RFC 1071's definition,
 * independently of {@link Checksum}), for the offload tests. Packets sit at {@link Packet#HEADROOM}.
 */
public final class TestPackets {
    private TestPackets() {}

    public static final byte[] SRC4 = {10, 0, 0, 1};
    public static final byte[] DST4 = {10, 0, 0, 2};
    public static final byte[] SRC6 = ipv6(1);
    public static final byte[] DST6 = ipv6(2);
    public static final int ACK = 0x10;
    public static final int PSH = 0x08;

    static byte[] ipv6(int last) {
        byte[] a = new byte[16];
        a[0] = (byte) 0xfd;
        a[15] = (byte) last;
        return a;
    }

    /** TCP segment: ports 40000 -> 5201, {@code options} (a multiple of 4 bytes) after the fixed header. */
    public static Packet tcp(int version, int seq, int ack, int flags, byte[] options, byte[] payload) {
        return tcp(version, 40000, seq, ack, flags, options, payload);
    }

    public static Packet tcp(int version, int srcPort, int seq, int ack, int flags, byte[] options, byte[] payload) {
        int th = 20 + options.length;
        ByteBuffer t = ByteBuffer.allocate(th + payload.length);
        t.putShort((short) srcPort).putShort((short) 5201).putInt(seq).putInt(ack)
                .put((byte) ((th / 4) << 4)).put((byte) flags).putShort((short) 65535).putShort((short) 0)
                .putShort((short) 0).put(options).put(payload);
        return ip(version, 6, t.array(), 16);
    }

    /** UDP datagram: ports 40000 -> 5201. */
    public static Packet udp(int version, byte[] payload) {
        ByteBuffer u = ByteBuffer.allocate(8 + payload.length);
        u.putShort((short) 40000).putShort((short) 5201).putShort((short) (8 + payload.length)).putShort((short) 0)
                .put(payload);
        return ip(version, 17, u.array(), 6);
    }

    /** An IP packet around {@code transport}, whose checksum (at {@code checksumAt}) is filled in. */
    public static Packet ip(int version, int protocol, byte[] transport, int checksumAt) {
        byte[] src = version == 4 ? SRC4 : SRC6;
        byte[] dst = version == 4 ? DST4 : DST6;
        int ipLen = version == 4 ? 20 : 40;
        ByteBuffer b = ByteBuffer.allocate(Packet.HEADROOM + ipLen + transport.length + Packet.TAILROOM);
        b.position(Packet.HEADROOM);
        if (version == 4) {
            b.put((byte) 0x45).put((byte) 0).putShort((short) (ipLen + transport.length)).putShort((short) 0x1234)
                    .putShort((short) 0x4000).put((byte) 64).put((byte) protocol).putShort((short) 0).put(src).put(dst);
        } else {
            b.putInt(0x60000000).putShort((short) transport.length).put((byte) protocol).put((byte) 64)
                    .put(src).put(dst);
        }
        byte[] t = transport.clone();
        int pseudo = referenceSum(src) + referenceSum(dst) + protocol + t.length;
        int check = ~fold(pseudo + referenceSum(t)) & 0xffff;
        if (protocol == 17 && check == 0) {
            check = 0xffff;
        }
        t[checksumAt] = (byte) (check >>> 8);
        t[checksumAt + 1] = (byte) check;
        b.put(t);
        byte[] buf = b.array();
        if (version == 4) {
            int hc = ~fold(referenceSum(java.util.Arrays.copyOfRange(buf, Packet.HEADROOM, Packet.HEADROOM + 20)))
                    & 0xffff;
            buf[Packet.HEADROOM + 10] = (byte) (hc >>> 8);
            buf[Packet.HEADROOM + 11] = (byte) hc;
        }
        return new Packet(buf).set(Packet.HEADROOM, ipLen + transport.length);
    }

    /** RFC 1071 straight from its definition: 16-bit big-endian words, an odd byte padded. Unfolded. */
    public static int referenceSum(byte[] b) {
        int sum = 0;
        for (int i = 0; i < b.length; i += 2) {
            int hi = b[i] & 0xff;
            int lo = i + 1 < b.length ? b[i + 1] & 0xff : 0;
            sum += hi << 8 | lo;
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return sum;
    }

    public static int fold(int sum) {
        while (sum >>> 16 != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return sum;
    }

    /** True when the packet's IPv4 header (if any) and transport checksum verify, by the reference sum. */
    public static boolean checksumsCorrect(Packet p) {
        byte[] b = java.util.Arrays.copyOfRange(p.buf, p.offset, p.end());
        int version = (b[0] & 0xf0) >>> 4;
        int ipLen = version == 4 ? (b[0] & 0x0f) * 4 : 40;
        if (version == 4 && fold(referenceSum(java.util.Arrays.copyOf(b, ipLen))) != 0xffff) {
            return false;
        }
        int protocol = version == 4 ? b[9] & 0xff : b[6] & 0xff;
        int addr = version == 4 ? 12 : 8;
        int addrLen = version == 4 ? 4 : 16;
        byte[] t = java.util.Arrays.copyOfRange(b, ipLen, b.length);
        int pseudo = referenceSum(java.util.Arrays.copyOfRange(b, addr, addr + 2 * addrLen)) + protocol + t.length;
        return fold(pseudo + referenceSum(t)) == 0xffff;
    }

    /** The bytes of a packet, for comparisons. */
    public static byte[] bytes(Packet p) {
        return java.util.Arrays.copyOfRange(p.buf, p.offset, p.end());
    }

    /** Pads {@code p}'s buffer to a superpacket's capacity, as a TUN read would have it. */
    public static Packet roomy(Packet p) {
        p.ensureCapacity(Packet.SUPER_CAPACITY);
        return p;
    }

    public static byte[] payload(int length, int seed) {
        byte[] b = new byte[length];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }

    /**
     * A TCP superpacket as the kernel's TSO hands it over: one header, {@code payload}, cut every {@code mss}
     * bytes, checksum partial (the pseudo-header's sum only, over the length of the whole).
     */
    public static Packet tsoSuperpacket(int version, int seq, int flags, byte[] options, byte[] payload, int mss) {
        Packet p = roomy(tcp(version, seq, 7777, flags, options, payload));
        int ipLen = version == 4 ? 20 : 40;
        int transportLength = p.length - ipLen;
        byte[] b = p.buf;
        int addr = version == 4 ? 12 : 8;
        int addrLen = version == 4 ? 4 : 16;
        int pseudo = fold(referenceSum(java.util.Arrays.copyOfRange(b, p.offset + addr, p.offset + addr + 2 * addrLen))
                + 6 + transportLength);
        b[p.offset + ipLen + 16] = (byte) (pseudo >>> 8);
        b[p.offset + ipLen + 17] = (byte) pseudo;
        p.setGso(version == 4 ? Packet.GSO_TCP4 : Packet.GSO_TCP6, mss);
        p.setPartialChecksum(ipLen, 16);
        return p;
    }

    /** Fresh packets, {@code n} of them, default capacity. */
    public static Packet[] packets(int n) {
        Packet[] ps = new Packet[n];
        for (int i = 0; i < n; i++) {
            ps[i] = new Packet();
        }
        return ps;
    }
}
