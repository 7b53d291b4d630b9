package io.wgcni.tun;

import io.wgcni.wg.io.Endpoint;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;

/**
 * {@code struct sockaddr_in} and {@code struct sockaddr_in6} in native memory, to and from {@link Endpoint}. On a
 * dual-stack socket IPv4 peers are IPv4-mapped IPv6 addresses ({@code ::ffff:a.b.c.d}); {@link #read} gives them
 * back as IPv4, as the UAPI shows them.
 */
final class SockAddr {
    /** {@code sizeof(struct sockaddr_in6)}, room enough for either. */
    static final int SIZE = 28;
    private static final int IN4_SIZE = 16;
    private static final ValueLayout.OfShort NATIVE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfShort BE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private SockAddr() {}

    /** Writes {@code e} for a socket of family {@code v6 ? AF_INET6 : AF_INET}; returns its length, -1 if it cannot. */
    static int write(MemorySegment at, Endpoint e, boolean v6) {
        byte[] a = e.address().getAddress();
        at.asSlice(0, SIZE).fill((byte) 0);
        if (!v6) {
            if (a.length != 4) {
                return -1;
            }
            at.set(NATIVE_SHORT, 0, (short) LibC.AF_INET);
            at.set(BE_SHORT, 2, (short) e.port());
            MemorySegment.copy(a, 0, at, ValueLayout.JAVA_BYTE, 4, 4);
            return IN4_SIZE;
        }
        at.set(NATIVE_SHORT, 0, (short) LibC.AF_INET6);
        at.set(BE_SHORT, 2, (short) e.port());
        if (a.length == 4) {
            at.set(ValueLayout.JAVA_BYTE, 18, (byte) 0xff);
            at.set(ValueLayout.JAVA_BYTE, 19, (byte) 0xff);
            MemorySegment.copy(a, 0, at, ValueLayout.JAVA_BYTE, 20, 4);
        } else {
            MemorySegment.copy(a, 0, at, ValueLayout.JAVA_BYTE, 8, 16);
            if (e.address() instanceof Inet6Address v6a && v6a.getScopeId() != 0) {
                at.set(ValueLayout.JAVA_INT_UNALIGNED, 24, v6a.getScopeId());
            }
        }
        return SIZE;
    }

    /** The endpoint at {@code at}; null for a family other than AF_INET and AF_INET6. */
    static Endpoint read(MemorySegment at) {
        int family = at.get(NATIVE_SHORT, 0);
        int port = at.get(BE_SHORT, 2) & 0xffff;
        try {
            if (family == LibC.AF_INET) {
                return new Endpoint(InetAddress.getByAddress(bytes(at, 4, 4)), port);
            }
            if (family != LibC.AF_INET6) {
                return null;
            }
            byte[] a = bytes(at, 8, 16);
            if (isV4Mapped(a)) {
                return new Endpoint(InetAddress.getByAddress(java.util.Arrays.copyOfRange(a, 12, 16)), port);
            }
            int scope = at.get(ValueLayout.JAVA_INT_UNALIGNED, 24);
            return new Endpoint(scope != 0 ? Inet6Address.getByAddress(null, a, scope) : InetAddress.getByAddress(a),
                    port);
        } catch (UnknownHostException e) {
            throw new AssertionError(e); // lengths are right by construction
        }
    }

    /** Whether two sockaddrs are byte for byte the same (the common case: the same sender as last time). */
    static boolean same(MemorySegment a, MemorySegment b) {
        return MemorySegment.mismatch(a, 0, SIZE, b, 0, SIZE) == -1;
    }

    private static byte[] bytes(MemorySegment at, int off, int len) {
        byte[] b = new byte[len];
        MemorySegment.copy(at, ValueLayout.JAVA_BYTE, off, b, 0, len);
        return b;
    }

    private static boolean isV4Mapped(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
    }

    static boolean isV4(Endpoint e) {
        return e.address() instanceof Inet4Address;
    }
}
