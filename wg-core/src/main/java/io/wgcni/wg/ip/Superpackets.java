package io.wgcni.wg.ip;

import io.wgcni.wg.io.Packet;
import java.net.Inet4Address;

/**
 * TCP superpackets as a TUN with TSO hands them over (checksum partial, segment size set), for code that must
 * rehearse or measure the offloaded path without a kernel: jwg's start-up rehearsal and the benchmarks.
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
}
