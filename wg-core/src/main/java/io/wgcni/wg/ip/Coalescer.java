package io.wgcni.wg.ip;

import static io.wgcni.wg.ip.IpHeader.PROTO_TCP;
import static io.wgcni.wg.ip.IpHeader.PROTO_UDP;
import static io.wgcni.wg.ip.IpHeader.TCP_ACK_FLAG;
import static io.wgcni.wg.ip.IpHeader.TCP_FLAGS;
import static io.wgcni.wg.ip.IpHeader.TCP_PSH;
import static io.wgcni.wg.ip.IpHeader.putU16;
import static io.wgcni.wg.ip.IpHeader.u16;
import static io.wgcni.wg.ip.IpHeader.u32;

import io.wgcni.wg.io.Packet;
import java.util.Arrays;

/**
 * Receive offload done in software: merges consecutive TCP segments (and UDP datagrams, where the TUN takes UDP
 * superpackets) of one flow from a batch of opened packets into superpackets, so that a burst crosses into the
 * kernel in a few writes instead of one per packet. The rules are the kernel's GRO rules (tcp_gro_receive, and
 * tools/testing/selftests/net/gro.c), as wireguard-go's tun/offload_linux.go applies them:
 *
 * <ul>
 * <li>same flow: addresses, ports, and for TCP the acknowledgement number and the options, byte for byte;
 * <li>same IP header where it matters: IPv4 without options, not a fragment, same TOS, TTL and DF; IPv6 with TCP
 * or UDP right behind the fixed header, same traffic class and hop limit;
 * <li>TCP: flags ACK or ACK|PSH only, a payload, in sequence (appended, never prepended); PSH ends a superpacket;
 * <li>every segment as large as the first except the last, which may be shorter and ends the superpacket;
 * <li>a UDP datagram merges only into the newest superpacket of its flow (UDP has no sequence numbers: merging
 * into an older one would reorder it);
 * <li>checksums are verified before merging: a packet with a bad checksum is passed on alone, for the kernel to
 * drop as it would have, instead of being laundered into a superpacket whose checksum the kernel trusts.
 * </ul>
 *
 * <p>A merged superpacket lives in one of this coalescer's own buffers, valid until the next {@link #coalesce};
 * packets that merge with nothing are passed through by reference. Not thread-safe: one per thread.
 */
public final class Coalescer {
    private static final int V4_DF = 0x40;
    /** The kernel's UDP_MAX_SEGMENTS before Linux 6.9: a UDP superpacket of more is refused. */
    static final int MAX_UDP_SEGMENTS = 64;

    private final Packet[] merged;
    private boolean udp;
    private final int maxItems;
    // Per item: the packet (input or merged buffer) and what merging needs to know about it.
    private final Packet[] itemPacket;
    private final int[] itemKind;
    private final int[] itemIpLen;
    private final int[] itemHeaders;
    private final int[] itemGsoSize;
    private final int[] itemNextSeq;
    private final int[] itemSegments;
    private final int[] itemHash;
    private final boolean[] itemOpen;
    private final boolean[] itemMerged;
    private int items;
    private int mergedUsed;

    /** Kinds of candidate. */
    private static final int NONE = 0;
    private static final int TCP4 = 1;
    private static final int TCP6 = 2;
    private static final int UDP4 = 3;
    private static final int UDP6 = 4;

    /**
     * @param maxBatch the largest batch {@link #coalesce} will be given
     * @param maxMerged how many superpackets one batch may produce (each holds a 64 KiB buffer)
     */
    public Coalescer(int maxBatch, int maxMerged) {
        this.maxItems = maxBatch;
        merged = new Packet[maxMerged];
        for (int i = 0; i < maxMerged; i++) {
            merged[i] = new Packet(new byte[Packet.SUPER_CAPACITY]);
        }
        itemPacket = new Packet[maxBatch];
        itemKind = new int[maxBatch];
        itemIpLen = new int[maxBatch];
        itemHeaders = new int[maxBatch];
        itemGsoSize = new int[maxBatch];
        itemNextSeq = new int[maxBatch];
        itemSegments = new int[maxBatch];
        itemHash = new int[maxBatch];
        itemOpen = new boolean[maxBatch];
        itemMerged = new boolean[maxBatch];
    }

    /**
     * Coalesces IP packets {@code in[0, n)} (superpackets among them are passed through) and writes the result, in
     * order of first appearance, to {@code out} (which may be {@code in}); returns how many packets that is.
     * Superpackets come out with their offload metadata set and a partial checksum. UDP datagrams are merged only when
     * {@code udp}.
     */
    public int coalesce(Packet[] in, int n, Packet[] out, boolean udp) {
        this.udp = udp;
        if (n > maxItems) {
            throw new IllegalArgumentException("batch of " + n + " over " + maxItems);
        }
        items = 0;
        mergedUsed = 0;
        for (int i = 0; i < n; i++) {
            add(in[i]);
        }
        for (int k = 0; k < items; k++) {
            if (itemMerged[k]) {
                finish(k);
            }
            out[k] = itemPacket[k];
            itemPacket[k] = null;
        }
        return items;
    }

    private void add(Packet p) {
        int kind = kind(p);
        int hash = kind == NONE ? 0 : flowHash(p, kind);
        if (kind == UDP4 || kind == UDP6) {
            int k = newestOfFlow(p, kind, hash);
            if (k >= 0 && itemOpen[k] && tryMerge(k, p)) {
                return;
            }
        } else if (kind != NONE) {
            for (int k = items - 1; k >= 0; k--) {
                if (itemOpen[k] && itemHash[k] == hash && itemKind[k] == kind && sameFlow(k, p) && tryMerge(k, p)) {
                    return;
                }
            }
        }
        int k = items++;
        itemPacket[k] = p;
        itemKind[k] = kind;
        itemHash[k] = hash;
        itemMerged[k] = false;
        itemOpen[k] = kind != NONE;
        if (kind != NONE) {
            byte[] b = p.buf;
            int ipLen = IpHeader.headerLength(b, p.offset, kind == TCP4 || kind == UDP4 ? 4 : 6);
            int headers = ipLen + (isTcp(kind) ? tcpHeaderLength(p, ipLen) : IpHeader.UDP_HEADER);
            itemIpLen[k] = ipLen;
            itemHeaders[k] = headers;
            itemGsoSize[k] = p.length - headers;
            itemSegments[k] = 1;
            if (isTcp(kind)) {
                itemNextSeq[k] = u32(b, p.offset + ipLen + IpHeader.TCP_SEQ) + itemGsoSize[k];
                itemOpen[k] = (b[p.offset + ipLen + TCP_FLAGS] & TCP_PSH) == 0;
            }
        }
    }

    /** The newest item of {@code p}'s UDP flow, or -1 when there is none (then {@code p} starts one). */
    private int newestOfFlow(Packet p, int kind, int hash) {
        for (int k = items - 1; k >= 0; k--) {
            if (itemHash[k] == hash && itemKind[k] == kind && sameFlow(k, p)) {
                return k;
            }
        }
        return -1;
    }

    private static boolean isTcp(int kind) {
        return kind == TCP4 || kind == TCP6;
    }

    /** What kind of merge candidate {@code p} is (NONE for anything the rules leave alone). */
    private int kind(Packet p) {
        if (p.gso != Packet.GSO_NONE || p.partialChecksum) {
            return NONE; // a superpacket already (from an in-process hop): passed on as it is
        }
        byte[] b = p.buf;
        int o = p.offset;
        int version = IpHeader.version(b, o, p.length);
        if (version == 4) {
            if ((b[o] & 0x0f) != 5 || (u16(b, o + IpHeader.V4_FLAGS_FRAGMENT) & 0x3fff) != 0) {
                return NONE; // options, or a fragment (MF set or an offset)
            }
            int proto = b[o + IpHeader.V4_PROTOCOL] & 0xff;
            if (proto == PROTO_TCP && tcpCandidate(p, IpHeader.V4_MIN_HEADER)) {
                return TCP4;
            }
            return proto == PROTO_UDP && udp && p.length > IpHeader.V4_MIN_HEADER + IpHeader.UDP_HEADER ? UDP4 : NONE;
        }
        if (version == 6) {
            int next = b[o + IpHeader.V6_NEXT_HEADER] & 0xff;
            if (next == PROTO_TCP && tcpCandidate(p, IpHeader.V6_HEADER)) {
                return TCP6;
            }
            return next == PROTO_UDP && udp && p.length > IpHeader.V6_HEADER + IpHeader.UDP_HEADER ? UDP6 : NONE;
        }
        return NONE;
    }

    private static boolean tcpCandidate(Packet p, int ipLen) {
        if (p.length < ipLen + IpHeader.TCP_MIN_HEADER) {
            return false;
        }
        int th = tcpHeaderLength(p, ipLen);
        int flags = p.buf[p.offset + ipLen + TCP_FLAGS] & 0xff;
        return th >= IpHeader.TCP_MIN_HEADER && p.length > ipLen + th
                && (flags == TCP_ACK_FLAG || flags == (TCP_ACK_FLAG | TCP_PSH));
    }

    private static int tcpHeaderLength(Packet p, int ipLen) {
        return IpHeader.tcpHeaderLength(p.buf, p.offset + ipLen);
    }

    /** A cheap hash of addresses and ports, to skip most non-matching items without comparing bytes. */
    private static int flowHash(Packet p, int kind) {
        byte[] b = p.buf;
        int o = p.offset;
        int version = kind == TCP4 || kind == UDP4 ? 4 : 6;
        int addr = IpHeader.sourceOffset(version);
        int h = 1;
        for (int i = 0; i < 2 * IpHeader.addressLength(version); i += 4) {
            h = 31 * h + u32(b, o + addr + i);
        }
        return 31 * h + u32(b, o + IpHeader.headerLength(b, o, version));
    }

    /** Same addresses, ports, IP header fields that must match and, for TCP, acknowledgement and options. */
    private boolean sameFlow(int k, Packet p) {
        Packet head = itemPacket[k];
        byte[] a = head.buf;
        int ao = head.offset;
        byte[] b = p.buf;
        int bo = p.offset;
        int kind = itemKind[k];
        int ipLen = itemIpLen[k];
        if (kind == TCP4 || kind == UDP4) {
            if (a[ao + 1] != b[bo + 1] || a[ao + IpHeader.V4_TTL] != b[bo + IpHeader.V4_TTL]
                    || (a[ao + IpHeader.V4_FLAGS_FRAGMENT] & V4_DF) != (b[bo + IpHeader.V4_FLAGS_FRAGMENT] & V4_DF)) {
                return false;
            }
        } else if (a[ao] != b[bo] || (a[ao + 1] & 0xf0) != (b[bo + 1] & 0xf0)
                || a[ao + IpHeader.V6_HOP_LIMIT] != b[bo + IpHeader.V6_HOP_LIMIT]) {
            return false;
        }
        int version = kind == TCP4 || kind == UDP4 ? 4 : 6;
        int addr = IpHeader.sourceOffset(version);
        int addrLen = 2 * IpHeader.addressLength(version);
        if (!Arrays.equals(a, ao + addr, ao + addr + addrLen, b, bo + addr, bo + addr + addrLen)
                || u32(a, ao + ipLen) != u32(b, bo + ipLen)) { // ports
            return false;
        }
        if (isTcp(kind)) {
            int headers = itemHeaders[k];
            if (tcpHeaderLength(p, ipLen) != headers - ipLen
                    || u32(a, ao + ipLen + IpHeader.TCP_ACK) != u32(b, bo + ipLen + IpHeader.TCP_ACK)) {
                return false;
            }
            int opts = ipLen + IpHeader.TCP_MIN_HEADER;
            return Arrays.equals(a, ao + opts, ao + headers, b, bo + opts, bo + headers);
        }
        return true;
    }

    /** Appends {@code p} to item {@code k} if the rules allow; false leaves the item as it was. */
    private boolean tryMerge(int k, Packet p) {
        int headers = itemHeaders[k];
        int payload = p.length - headers;
        Packet head = itemPacket[k];
        if (payload <= 0 || payload > itemGsoSize[k] || head.length + payload > Packet.MAX_IP_PACKET) {
            return false;
        }
        int kind = itemKind[k];
        boolean tcp = isTcp(kind);
        if (tcp && u32(p.buf, p.offset + itemIpLen[k] + IpHeader.TCP_SEQ) != itemNextSeq[k]) {
            return false;
        }
        if (!itemMerged[k]) {
            if (mergedUsed == merged.length) {
                return false;
            }
            if (!valid(head, k)) {
                itemOpen[k] = false; // the kernel will see it alone, and drop it
                return false;
            }
        }
        if (!valid(p, k)) {
            return false;
        }
        if (!itemMerged[k]) {
            Packet m = merged[mergedUsed++];
            System.arraycopy(head.buf, head.offset, m.buf, Packet.HEADROOM, head.length);
            m.set(Packet.HEADROOM, head.length);
            m.endpoint = head.endpoint;
            itemPacket[k] = head = m;
            itemMerged[k] = true;
        }
        System.arraycopy(p.buf, p.offset + headers, head.buf, head.end(), payload);
        head.length += payload;
        itemSegments[k]++;
        if (payload < itemGsoSize[k] || !tcp && itemSegments[k] == MAX_UDP_SEGMENTS) {
            itemOpen[k] = false; // a short segment ends a superpacket
        }
        if (tcp) {
            itemNextSeq[k] += payload;
            if ((p.buf[p.offset + itemIpLen[k] + TCP_FLAGS] & TCP_PSH) != 0) {
                head.buf[head.offset + itemIpLen[k] + TCP_FLAGS] |= (byte) TCP_PSH;
                itemOpen[k] = false; // PSH only on the last segment
            }
        }
        return true;
    }

    private boolean valid(Packet p, int k) {
        int kind = itemKind[k];
        int version = kind == TCP4 || kind == UDP4 ? 4 : 6;
        return Checksum.transportValid(p.buf, p.offset, version, itemIpLen[k], isTcp(kind) ? PROTO_TCP : PROTO_UDP,
                p.length);
    }

    /** Lengths, IPv4 header checksum, and the partial transport checksum (pseudo-header only) of a superpacket. */
    private void finish(int k) {
        Packet p = itemPacket[k];
        byte[] b = p.buf;
        int o = p.offset;
        int kind = itemKind[k];
        int version = kind == TCP4 || kind == UDP4 ? 4 : 6;
        int ipLen = itemIpLen[k];
        boolean tcp = isTcp(kind);
        if (version == 4) {
            putU16(b, o + IpHeader.V4_TOTAL_LENGTH, p.length);
            Checksum.setIpv4Header(b, o, ipLen);
        } else {
            putU16(b, o + IpHeader.V6_PAYLOAD_LENGTH, p.length - IpHeader.V6_HEADER);
        }
        int transportLength = p.length - ipLen;
        int field = tcp ? IpHeader.TCP_CHECKSUM : IpHeader.UDP_CHECKSUM;
        if (!tcp) {
            putU16(b, o + ipLen + IpHeader.UDP_LENGTH, transportLength);
        }
        putU16(b, o + ipLen + field,
                Checksum.fold(Checksum.pseudoHeader(b, o, version, tcp ? PROTO_TCP : PROTO_UDP, transportLength)));
        p.setGso(tcp ? (version == 4 ? Packet.GSO_TCP4 : Packet.GSO_TCP6) : Packet.GSO_UDP, itemGsoSize[k]);
        p.setPartialChecksum(ipLen, field);
    }
}
