package io.wgcni.tun;

import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.IpHeader;

/**
 * {@code struct virtio_net_hdr} (include/uapi/linux/virtio_net.h), the 10 bytes in front of every packet on a TUN
 * opened with {@code IFF_VNET_HDR}, little-endian on this host: flags, gso_type, hdr_len, gso_size, csum_start,
 * csum_offset. Translated to and from wg-core's {@link Packet} offload fields, which name the same things without
 * Linux.
 */
final class VirtioNetHdr {
    static final int LENGTH = 10;
    static final int F_NEEDS_CSUM = 1;
    static final int GSO_NONE = 0;
    static final int GSO_TCPV4 = 1;
    static final int GSO_TCPV6 = 4;
    static final int GSO_UDP_L4 = 5;
    /** Set on a TCP superpacket whose first segment has CWR: the split keeps CWR on that one only anyway. */
    static final int GSO_ECN = 0x80;

    private VirtioNetHdr() {}

    /**
     * Reads the header at {@code b[at, at + 10)} into {@code p}'s offload fields (the packet itself follows the
     * header). False for a kind of superpacket wg-core cannot cut (the kernel's legacy UFO, or garbage): drop it.
     * The lengths are checked when the packet is cut, not here: they are not to be trusted either.
     */
    static boolean decode(byte[] b, int at, Packet p) {
        int flags = b[at] & 0xff;
        int type = b[at + 1] & 0xff & ~GSO_ECN;
        int gsoSize = u16(b, at + 4);
        int csumStart = u16(b, at + 6);
        int csumOffset = u16(b, at + 8);
        int kind = switch (type) {
            case GSO_NONE -> Packet.GSO_NONE;
            case GSO_TCPV4 -> Packet.GSO_TCP4;
            case GSO_TCPV6 -> Packet.GSO_TCP6;
            case GSO_UDP_L4 -> Packet.GSO_UDP;
            default -> -1;
        };
        if (kind < 0) {
            return false;
        }
        p.setGso(kind, kind == Packet.GSO_NONE ? 0 : gsoSize);
        if ((flags & F_NEEDS_CSUM) != 0) {
            p.setPartialChecksum(csumStart, csumOffset);
        } else if (kind != Packet.GSO_NONE) {
            return false; // a superpacket always comes with a partial checksum
        }
        return true;
    }

    /** Writes the header for {@code p} at {@code b[at, at + 10)}. */
    static void encode(Packet p, byte[] b, int at) {
        java.util.Arrays.fill(b, at, at + LENGTH, (byte) 0);
        if (p.partialChecksum) {
            b[at] = F_NEEDS_CSUM;
            putU16(b, at + 6, p.checksumStart);
            putU16(b, at + 8, p.checksumOffset);
        }
        if (p.gso == Packet.GSO_NONE) {
            return;
        }
        int type = switch (p.gso) {
            case Packet.GSO_TCP4 -> GSO_TCPV4;
            case Packet.GSO_TCP6 -> GSO_TCPV6;
            default -> GSO_UDP_L4;
        };
        int transport = p.gso == Packet.GSO_UDP ? IpHeader.UDP_HEADER
                : IpHeader.tcpHeaderLength(p.buf, p.offset + p.checksumStart);
        b[at + 1] = (byte) type;
        putU16(b, at + 2, p.checksumStart + transport);
        putU16(b, at + 4, p.gsoSize);
    }

    private static int u16(byte[] b, int at) {
        return (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
    }

    private static void putU16(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
    }
}
