package io.wgcni.wg.ip;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words. Sums are
 * carried unfolded in a {@code long} until {@link #fold}, so partial sums (a pseudo-header, a header, a payload) add
 * up with plain {@code +}. The loop reads 8 bytes at a time and adds their two 32-bit halves: a 64-bit accumulator
 * cannot overflow on anything shorter than 2^32 words.
 */
public final class Checksum {
    private static final VarHandle BE64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private Checksum() {}

    /** The unfolded sum of {@code b[off, off + len)} as big-endian 16-bit words, an odd last byte padded with 0. */
    public static long sum(byte[] b, int off, int len) {
        long sum = 0;
        int i = off;
        int end = off + len;
        for (; i + 8 <= end; i += 8) {
            long v = (long) BE64.get(b, i);
            sum += (v >>> 32) + (v & 0xffff_ffffL);
        }
        for (; i + 2 <= end; i += 2) {
            sum += (b[i] & 0xff) << 8 | b[i + 1] & 0xff;
        }
        if (i < end) {
            sum += (b[i] & 0xff) << 8;
        }
        return sum;
    }

    /** Folds an unfolded sum to 16 bits (end-around carries). */
    public static int fold(long sum) {
        sum = (sum & 0xffff_ffffL) + (sum >>> 32);
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        return (int) sum;
    }

    /** The checksum field's value for data whose unfolded sum is {@code sum}. */
    public static int finish(long sum) {
        return ~fold(sum) & 0xffff;
    }

    /**
     * The TCP/UDP pseudo-header's unfolded sum (RFC 793, RFC 768, RFC 8200 section 8.1): source and destination
     * addresses of the IP header at {@code ip}, the protocol, and the transport length.
     */
    public static long pseudoHeader(byte[] b, int ip, int version, int protocol, int transportLength) {
        int addr = IpHeader.addressLength(version);
        return sum(b, ip + IpHeader.sourceOffset(version), 2 * addr) + protocol + transportLength;
    }

    /** Writes a fresh IPv4 header checksum over {@code b[ip, ip + headerLength)}. */
    public static void setIpv4Header(byte[] b, int ip, int headerLength) {
        IpHeader.putU16(b, ip + IpHeader.V4_CHECKSUM, 0);
        IpHeader.putU16(b, ip + IpHeader.V4_CHECKSUM, finish(sum(b, ip, headerLength)));
    }

    /**
     * Whether the TCP or UDP segment behind the IP header at {@code ip} carries a correct checksum: the
     * pseudo-header and the segment sum to 0xffff. A UDP checksum of 0 over IPv4 means "none" and passes.
     */
    public static boolean transportValid(byte[] b, int ip, int version, int ipHeaderLength, int protocol,
            int totalLength) {
        int start = ip + ipHeaderLength;
        int transportLength = totalLength - ipHeaderLength;
        if (protocol == IpHeader.PROTO_UDP && version == 4 && IpHeader.u16(b, start + IpHeader.UDP_CHECKSUM) == 0) {
            return true;
        }
        return fold(pseudoHeader(b, ip, version, protocol, transportLength) + sum(b, start, transportLength)) == 0xffff;
    }
}
