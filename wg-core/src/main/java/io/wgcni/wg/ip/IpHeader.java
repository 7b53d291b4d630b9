package io.wgcni.wg.ip;

/**
 * The IPv4 and IPv6 header fields the data plane reads and writes (RFC 791, RFC 8200), written down once. Every
 * method takes the packet as {@code buf[off, off + len)}; none allocates.
 */
public final class IpHeader {
    private IpHeader() {}

    public static final int V4_MIN_HEADER = 20;
    public static final int V6_HEADER = 40;
    public static final int V4_TOTAL_LENGTH = 2;
    public static final int V4_ID = 4;
    public static final int V4_FLAGS_FRAGMENT = 6;
    public static final int V4_TTL = 8;
    public static final int V4_PROTOCOL = 9;
    public static final int V4_CHECKSUM = 10;
    public static final int V4_SRC = 12;
    public static final int V4_DST = 16;
    public static final int V6_PAYLOAD_LENGTH = 4;
    public static final int V6_NEXT_HEADER = 6;
    public static final int V6_HOP_LIMIT = 7;
    public static final int V6_SRC = 8;
    public static final int V6_DST = 24;

    public static final int PROTO_TCP = 6;
    public static final int PROTO_UDP = 17;

    public static final int TCP_SEQ = 4;
    public static final int TCP_ACK = 8;
    public static final int TCP_DATA_OFFSET = 12;
    public static final int TCP_FLAGS = 13;
    public static final int TCP_CHECKSUM = 16;
    public static final int TCP_MIN_HEADER = 20;
    public static final int TCP_MAX_HEADER = 60;
    public static final int TCP_FIN = 0x01;
    public static final int TCP_PSH = 0x08;
    public static final int TCP_ACK_FLAG = 0x10;
    public static final int UDP_LENGTH = 4;
    public static final int UDP_CHECKSUM = 6;
    public static final int UDP_HEADER = 8;

    /** 4 or 6 when {@code len} can hold that version's fixed header, else 0. */
    public static int version(byte[] buf, int off, int len) {
        if (len <= 0) {
            return 0;
        }
        int v = (buf[off] & 0xf0) >>> 4;
        return v == 4 && len >= V4_MIN_HEADER || v == 6 && len >= V6_HEADER ? v : 0;
    }

    /** The packet's own idea of its length (IPv4 total length, IPv6 40 + payload length). */
    public static int totalLength(byte[] buf, int off, int version) {
        return version == 4 ? u16(buf, off + V4_TOTAL_LENGTH) : V6_HEADER + u16(buf, off + V6_PAYLOAD_LENGTH);
    }

    /** IPv4 header length from IHL; 40 for IPv6 (extension headers count as transport here). */
    public static int headerLength(byte[] buf, int off, int version) {
        return version == 4 ? (buf[off] & 0x0f) * 4 : V6_HEADER;
    }

    public static int sourceOffset(int version) {
        return version == 4 ? V4_SRC : V6_SRC;
    }

    public static int destinationOffset(int version) {
        return version == 4 ? V4_DST : V6_DST;
    }

    public static int addressLength(int version) {
        return version == 4 ? 4 : 16;
    }

    /** The TCP header's length from its data offset; {@code tcp} is where the TCP header starts. */
    public static int tcpHeaderLength(byte[] buf, int tcp) {
        return ((buf[tcp + TCP_DATA_OFFSET] & 0xf0) >>> 4) * 4;
    }

    /** IPv4 protocol or IPv6 next header. */
    public static int protocol(byte[] buf, int off, int version) {
        return buf[off + (version == 4 ? V4_PROTOCOL : V6_NEXT_HEADER)] & 0xff;
    }

    /**
     * The length of the IP packet at {@code buf[off, off + len)} as its header states it, or -1 when it is no
     * well-formed IPv4 or IPv6 packet that fits in {@code len} (a decrypted payload is cut to this: the rest is
     * WireGuard's padding).
     */
    public static int checkedLength(byte[] buf, int off, int len) {
        int version = version(buf, off, len);
        if (version == 0) {
            return -1;
        }
        int total = totalLength(buf, off, version);
        if (version == 4 && (total < V4_MIN_HEADER || headerLength(buf, off, 4) < V4_MIN_HEADER)) {
            return -1;
        }
        return total <= len ? total : -1;
    }

    /**
     * Forwarding's header update (RFC 1812 5.3.1, RFC 8200): decrements the IPv4 TTL, with the header checksum
     * updated incrementally (RFC 1624), or the IPv6 hop limit. False, with nothing changed, when the packet may
     * not be forwarded any more (TTL or hop limit 1 or 0).
     */
    public static boolean decrementTtl(byte[] buf, int off, int version) {
        int at = off + (version == 4 ? V4_TTL : V6_HOP_LIMIT);
        int ttl = buf[at] & 0xff;
        if (ttl <= 1) {
            return false;
        }
        buf[at] = (byte) (ttl - 1);
        if (version == 4) {
            // HC' = ~(~HC + ~m + m'), m the 16-bit word holding TTL and protocol: m' = m - 0x0100.
            int hc = u16(buf, off + V4_CHECKSUM);
            int sum = (~hc & 0xffff) + (~(ttl << 8) & 0xffff) + ((ttl - 1) << 8);
            sum = (sum & 0xffff) + (sum >>> 16);
            sum = (sum & 0xffff) + (sum >>> 16);
            putU16(buf, off + V4_CHECKSUM, ~sum & 0xffff);
        }
        return true;
    }

    public static int u16(byte[] b, int at) {
        return (b[at] & 0xff) << 8 | b[at + 1] & 0xff;
    }

    public static void putU16(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }

    public static int u32(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | b[at + 3] & 0xff;
    }

    public static void putU32(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }
}
