package io.wgcni.wg.ip;

import io.wgcni.wg.io.Packet;
import java.net.Inet4Address;

/**
 * Packets as a TUN hands them over, TCP superpackets among them (checksum partial, segment size set), for code that
 * must rehearse or measure the data path without a kernel: the start-up rehearsals and the benchmarks.
 */
public final class Superpackets {
    private Superpackets() {}

    /**
     * An IPv4 TCP packet from {@code src}:40000 to {@code dst}:5201 carrying {@code payload}, ACK set, at
     * {@link Packet#HEADROOM} of a buffer of its own; a superpacket of {@code mss}-byte segments when the payload
     * is longer than {@code mss}.
     */
    public static Packet tcp4(Inet4Address src, Inet4Address dst, byte[] payload, int mss) {
        int len = IpHeader.V4_MIN_HEADER + IpHeader.TCP_MIN_HEADER + payload.length;
        byte[] b = new byte[Packet.HEADROOM + len + Packet.TAILROOM];
        int o = Packet.HEADROOM;
        b[o] = 0x45;
        IpHeader.putU16(b, o + IpHeader.V4_TOTAL_LENGTH, len);
        b[o + IpHeader.V4_FLAGS_FRAGMENT] = 0x40; // DF
        b[o + IpHeader.V4_TTL] = 64;
        b[o + IpHeader.V4_PROTOCOL] = IpHeader.PROTO_TCP;
        System.arraycopy(src.getAddress(), 0, b, o + IpHeader.V4_SRC, 4);
        System.arraycopy(dst.getAddress(), 0, b, o + IpHeader.V4_DST, 4);
        Checksum.setIpv4Header(b, o, IpHeader.V4_MIN_HEADER);
        int t = o + IpHeader.V4_MIN_HEADER;
        IpHeader.putU16(b, t, 40000);
        IpHeader.putU16(b, t + 2, 5201);
        b[t + IpHeader.TCP_DATA_OFFSET] = 0x50;
        b[t + IpHeader.TCP_FLAGS] = (byte) IpHeader.TCP_ACK_FLAG;
        IpHeader.putU16(b, t + 14, 65535); // window
        System.arraycopy(payload, 0, b, t + IpHeader.TCP_MIN_HEADER, payload.length);
        int transport = len - IpHeader.V4_MIN_HEADER;
        IpHeader.putU16(b, t + IpHeader.TCP_CHECKSUM,
                Checksum.fold(Checksum.pseudoHeader(b, o, 4, IpHeader.PROTO_TCP, transport)));
        Packet p = new Packet(b).set(o, len).setPartialChecksum(IpHeader.V4_MIN_HEADER, IpHeader.TCP_CHECKSUM);
        return payload.length > mss ? p.setGso(Packet.GSO_TCP4, mss) : p;
    }

    /**
     * An IPv4 packet of {@code total} bytes from {@code src} to {@code dst} numbered as UDP, its payload bytes
     * counting up; no checksums, since nothing on a device's path checks them (a device routes by the addresses).
     */
    public static byte[] udp4(Inet4Address src, Inet4Address dst, int total) {
        byte[] p = new byte[total];
        p[0] = 0x45;
        IpHeader.putU16(p, IpHeader.V4_TOTAL_LENGTH, total);
        p[IpHeader.V4_TTL] = 64;
        p[IpHeader.V4_PROTOCOL] = IpHeader.PROTO_UDP;
        System.arraycopy(src.getAddress(), 0, p, IpHeader.V4_SRC, 4);
        System.arraycopy(dst.getAddress(), 0, p, IpHeader.V4_DST, 4);
        for (int i = IpHeader.V4_MIN_HEADER; i < total; i++) {
            p[i] = (byte) i;
        }
        return p;
    }
}
