package io.wgcni.wg.ip;

import static io.wgcni.wg.ip.IpHeader.PROTO_TCP;
import static io.wgcni.wg.ip.IpHeader.PROTO_UDP;
import static io.wgcni.wg.ip.IpHeader.TCP_FIN;
import static io.wgcni.wg.ip.IpHeader.TCP_FLAGS;
import static io.wgcni.wg.ip.IpHeader.TCP_PSH;
import static io.wgcni.wg.ip.IpHeader.putU16;
import static io.wgcni.wg.ip.IpHeader.putU32;
import static io.wgcni.wg.ip.IpHeader.u16;
import static io.wgcni.wg.ip.IpHeader.u32;

import io.wgcni.wg.io.Packet;

/**
 * Segmentation offload done in software: cuts a TCP or UDP superpacket into the packets it stands for, each with
 * complete headers and checksums, as the kernel's {@code tcp_gso_segment}/{@code __udp_gso_segment} would have
 * before the wire. Also finishes the checksum of a plain packet the kernel left partial.
 *
 * <p>Per segment: the IP header is copied (IPv4: identification + i, total length, a new header checksum; IPv6:
 * payload length), then the transport header (TCP: sequence number advanced by the payload before it, FIN and PSH
 * only on the last segment, CWR only on the first; UDP: its length), then the payload, then the transport checksum
 * over pseudo-header, header and payload. TCP options (timestamps, SACK) are copied unchanged into every segment, as
 * the kernel does. The metadata that came with the superpacket is not trusted: header lengths are read from the
 * headers themselves, and anything inconsistent makes the whole superpacket invalid.
 */
public final class Segmenter {
    /** What {@link #segments} and {@link #split} return for a superpacket that cannot be cut as it claims. */
    public static final int MALFORMED = -1;
    private static final int TCP_CWR = 0x80;

    private Segmenter() {}

    /** The number of segments {@code p} will be cut into (1 for a plain packet), or {@link #MALFORMED}. */
    public static int segments(Packet p) {
        if (p.gso == Packet.GSO_NONE) {
            return 1;
        }
        int hdrLen = headersLength(p);
        if (hdrLen < 0 || p.gsoSize <= 0) {
            return MALFORMED;
        }
        int payload = p.length - hdrLen;
        return payload <= 0 ? MALFORMED : (payload + p.gsoSize - 1) / p.gsoSize;
    }

    /**
     * Cuts segments {@code first, first + 1, ...} of superpacket {@code in} into {@code out[at], out[at + 1], ...}
     * (each placed at {@link Packet#HEADROOM}, grown if needed, a plain packet with finished checksums), at most
     * {@code max} of them, and returns how many; {@link #MALFORMED} when the headers contradict the metadata or each
     * other (then nothing useful is in {@code out}). A superpacket of many segments is cut in several calls.
     * {@code in} itself is not modified.
     */
    public static int split(Packet in, int first, Packet[] out, int at, int max) {
        int total = segments(in);
        if (total == MALFORMED || first < 0 || first >= total) {
            return MALFORMED;
        }
        int count = Math.min(Math.min(total - first, max), out.length - at);
        if (count <= 0) {
            return 0;
        }
        byte[] src = in.buf;
        int ip = in.offset;
        int version = IpHeader.version(src, ip, in.length);
        int ipLen = in.checksumStart;
        int hdrLen = headersLength(in);
        boolean tcp = in.gso != Packet.GSO_UDP;
        int protocol = tcp ? PROTO_TCP : PROTO_UDP;
        int transportHeader = hdrLen - ipLen;
        int firstSeq = tcp ? u32(src, ip + ipLen + IpHeader.TCP_SEQ) : 0;
        int id = version == 4 ? u16(src, ip + IpHeader.V4_ID) : 0;
        int flags = tcp ? src[ip + ipLen + TCP_FLAGS] & 0xff : 0;
        int end = in.offset + in.length;
        int data = ip + hdrLen + first * in.gsoSize;
        for (int j = 0; j < count; j++, data += in.gsoSize) {
            int i = first + j;
            int segPayload = Math.min(in.gsoSize, end - data);
            int segLen = hdrLen + segPayload;
            Packet seg = out[at + j];
            seg.ensureCapacity(Packet.HEADROOM + segLen + Packet.TAILROOM);
            seg.set(Packet.HEADROOM, segLen);
            byte[] b = seg.buf;
            int o = Packet.HEADROOM;
            System.arraycopy(src, ip, b, o, hdrLen);
            if (version == 4) {
                putU16(b, o + IpHeader.V4_ID, id + i);
                putU16(b, o + IpHeader.V4_TOTAL_LENGTH, segLen);
                Checksum.setIpv4Header(b, o, ipLen);
            } else {
                putU16(b, o + IpHeader.V6_PAYLOAD_LENGTH, segLen - IpHeader.V6_HEADER);
            }
            int th = o + ipLen;
            int checksumField;
            if (tcp) {
                putU32(b, th + IpHeader.TCP_SEQ, firstSeq + i * in.gsoSize);
                int f = flags;
                if (i < total - 1) {
                    f &= ~(TCP_FIN | TCP_PSH);
                }
                if (i > 0) {
                    f &= ~TCP_CWR;
                }
                b[th + TCP_FLAGS] = (byte) f;
                checksumField = th + IpHeader.TCP_CHECKSUM;
            } else {
                putU16(b, th + IpHeader.UDP_LENGTH, transportHeader + segPayload);
                checksumField = th + IpHeader.UDP_CHECKSUM;
            }
            System.arraycopy(src, data, b, o + hdrLen, segPayload);
            putU16(b, checksumField, 0);
            long sum = Checksum.pseudoHeader(b, o, version, protocol, transportHeader + segPayload)
                    + Checksum.sum(b, th, transportHeader + segPayload);
            int check = Checksum.finish(sum);
            putU16(b, checksumField, !tcp && check == 0 ? 0xffff : check); // RFC 768: a computed 0 is sent as ones
        }
        return count;
    }

    /**
     * Finishes the transport checksum of a plain packet whose checksum field holds only the pseudo-header's sum
     * (the kernel's CHECKSUM_PARTIAL). False when the stated checksum position lies outside the packet.
     */
    public static boolean finishChecksum(Packet p) {
        int start = p.offset + p.checksumStart;
        int field = start + p.checksumOffset;
        if (p.checksumStart < 0 || p.checksumOffset < 0 || field + 2 > p.end()) {
            return false;
        }
        long initial = u16(p.buf, field);
        putU16(p.buf, field, 0);
        putU16(p.buf, field, Checksum.finish(initial + Checksum.sum(p.buf, start, p.end() - start)));
        p.partialChecksum = false;
        return true;
    }

    /**
     * IP plus transport header length of a superpacket, read from the headers, or -1 when they do not fit the
     * packet or contradict its metadata ({@link Packet#checksumStart} is the IP header length, extension headers
     * included, as the kernel reports it).
     */
    static int headersLength(Packet p) {
        byte[] b = p.buf;
        int ip = p.offset;
        int version = IpHeader.version(b, ip, p.length);
        int ipLen = p.checksumStart;
        boolean v4Kind = p.gso == Packet.GSO_TCP4 || p.gso == Packet.GSO_UDP && version == 4;
        if (version == 0 || (p.gso == Packet.GSO_TCP4 && version != 4) || (p.gso == Packet.GSO_TCP6 && version != 6)) {
            return -1;
        }
        if (v4Kind ? ipLen != IpHeader.headerLength(b, ip, 4) || ipLen < IpHeader.V4_MIN_HEADER
                : ipLen < IpHeader.V6_HEADER) {
            return -1;
        }
        int wanted = p.gso == Packet.GSO_UDP ? PROTO_UDP : PROTO_TCP;
        boolean directlyBehind = version == 4 || ipLen == IpHeader.V6_HEADER;
        if (directlyBehind && IpHeader.protocol(b, ip, version) != wanted) {
            return -1;
        }
        int transport;
        if (p.gso == Packet.GSO_UDP) {
            transport = IpHeader.UDP_HEADER;
        } else {
            if (ipLen + IpHeader.TCP_DATA_OFFSET >= p.length) {
                return -1;
            }
            transport = IpHeader.tcpHeaderLength(b, ip + ipLen);
            if (transport < IpHeader.TCP_MIN_HEADER) {
                return -1;
            }
        }
        int hdrLen = ipLen + transport;
        return hdrLen < p.length ? hdrLen : -1;
    }
}
