package io.wgcni.tun;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/** ICMP and ICMPv6 echo packets with their IP headers and correct checksums, for tests and the benchmark. */
final class Icmp {
    static final int ECHO_REQUEST = 8;
    static final int ECHO_REPLY = 0;
    static final int ECHO6_REQUEST = 128;
    static final int ECHO6_REPLY = 129;

    private Icmp() {
    }

    /** An IPv4 ICMP echo request of {@code totalLength} bytes (IP header included) at {@code buf[off]}. */
    static int echo4(byte[] buf, int off, InetAddress src, InetAddress dst, int id, int seq, int totalLength) {
        if (!(src instanceof Inet4Address) || !(dst instanceof Inet4Address) || totalLength < 28) {
            throw new IllegalArgumentException();
        }
        java.util.Arrays.fill(buf, off, off + totalLength, (byte) 0);
        buf[off] = 0x45;
        putShort(buf, off + 2, totalLength);
        putShort(buf, off + 4, seq);      // identification
        putShort(buf, off + 6, 0x4000);   // don't fragment
        buf[off + 8] = 64;                // TTL
        buf[off + 9] = 1;                 // ICMP
        System.arraycopy(src.getAddress(), 0, buf, off + 12, 4);
        System.arraycopy(dst.getAddress(), 0, buf, off + 16, 4);
        putShort(buf, off + 10, checksum(buf, off, 20, 0));
        int icmp = off + 20;
        buf[icmp] = ECHO_REQUEST;
        putShort(buf, icmp + 4, id);
        putShort(buf, icmp + 6, seq);
        for (int i = icmp + 8; i < off + totalLength; i++) {
            buf[i] = (byte) i;
        }
        putShort(buf, icmp + 2, checksum(buf, icmp, totalLength - 20, 0));
        return totalLength;
    }

    /** An IPv6 ICMPv6 echo request of {@code totalLength} bytes (IPv6 header included). */
    static int echo6(byte[] buf, int off, InetAddress src, InetAddress dst, int id, int seq, int totalLength) {
        if (!(src instanceof Inet6Address) || !(dst instanceof Inet6Address) || totalLength < 48) {
            throw new IllegalArgumentException();
        }
        java.util.Arrays.fill(buf, off, off + totalLength, (byte) 0);
        int payload = totalLength - 40;
        buf[off] = 0x60;
        putShort(buf, off + 4, payload);
        buf[off + 6] = 58;                // ICMPv6
        buf[off + 7] = 64;                // hop limit
        System.arraycopy(src.getAddress(), 0, buf, off + 8, 16);
        System.arraycopy(dst.getAddress(), 0, buf, off + 24, 16);
        int icmp = off + 40;
        buf[icmp] = (byte) ECHO6_REQUEST;
        putShort(buf, icmp + 4, id);
        putShort(buf, icmp + 6, seq);
        for (int i = icmp + 8; i < off + totalLength; i++) {
            buf[i] = (byte) i;
        }
        putShort(buf, icmp + 2, checksum(buf, icmp, payload, pseudo6(buf, off, payload)));
        return totalLength;
    }

    /** True when {@code buf[off, off+len)} is a whole, valid echo reply to a request built above. */
    static boolean isEchoReply(byte[] buf, int off, int len, InetAddress from, InetAddress to, int id, int seq) {
        int version = (buf[off] & 0xf0) >>> 4;
        if (version == 4) {
            if (len < 28 || getShort(buf, off + 2) != len || buf[off + 9] != 1
                    || checksum(buf, off, 20, 0) != 0 || checksum(buf, off + 20, len - 20, 0) != 0) {
                return false;
            }
            int icmp = off + 20;
            return from instanceof Inet4Address && to instanceof Inet4Address
                    && java.util.Arrays.equals(buf, off + 12, off + 16, from.getAddress(), 0, 4)
                    && java.util.Arrays.equals(buf, off + 16, off + 20, to.getAddress(), 0, 4)
                    && buf[icmp] == ECHO_REPLY && getShort(buf, icmp + 4) == id && getShort(buf, icmp + 6) == seq;
        }
        if (version == 6) {
            if (len < 48 || getShort(buf, off + 4) != len - 40 || buf[off + 6] != 58) {
                return false;
            }
            int icmp = off + 40;
            return from instanceof Inet6Address && to instanceof Inet6Address
                    && checksum(buf, icmp, len - 40, pseudo6(buf, off, len - 40)) == 0
                    && java.util.Arrays.equals(buf, off + 8, off + 24, from.getAddress(), 0, 16)
                    && java.util.Arrays.equals(buf, off + 24, off + 40, to.getAddress(), 0, 16)
                    && (buf[icmp] & 0xff) == ECHO6_REPLY && getShort(buf, icmp + 4) == id
                    && getShort(buf, icmp + 6) == seq;
        }
        return false;
    }

    private static int pseudo6(byte[] buf, int ipOff, int payload) {
        int sum = 0;
        for (int i = ipOff + 8; i < ipOff + 40; i += 2) {
            sum += getShort(buf, i);
        }
        return sum + (payload >>> 16) + (payload & 0xffff) + 58;
    }

    /** The Internet checksum (RFC 1071) of {@code buf[off, off+len)} plus {@code initial}. */
    static int checksum(byte[] buf, int off, int len, int initial) {
        long sum = initial;
        int i = off;
        for (; i + 1 < off + len; i += 2) {
            sum += getShort(buf, i);
        }
        if (i < off + len) {
            sum += (buf[i] & 0xff) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum & 0xffff) + (sum >>> 16);
        }
        return (int) (~sum & 0xffff);
    }

    static int getShort(byte[] b, int off) {
        return (b[off] & 0xff) << 8 | (b[off + 1] & 0xff);
    }

    private static void putShort(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 8);
        b[off + 1] = (byte) v;
    }
}
