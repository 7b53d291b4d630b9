package io.wgcni.tun;

import static io.wgcni.tun.MsgHdr.NAME_STRIDE;

import io.wgcni.wg.io.Endpoint;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.BindException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One open UDP socket of a {@link UdpBind} and its options: dual-stack {@code [::]} ({@code IPV6_V6ONLY} off), IPv4
 * {@code 0.0.0.0} where IPv6 is not available; send and receive buffers of {@value #BUFFER} bytes, forced where
 * allowed (as wireguard-go does); {@code UDP_SEGMENT} probed, {@code UDP_GRO} set (Linux 5.12 or later);
 * {@code SO_MARK}. Calls hold it ({@link #acquire}) so that {@link #close} can wake a blocked reader with
 * {@code shutdown} and close the descriptor once the last call has left. A reopen makes a new one.
 */
final class UdpSocket {
    static final int BUFFER = 7 << 20;

    final int fd;
    final boolean v6;
    final int port;
    final boolean gro;
    /** Cleared for good when the kernel refuses a GSO train with EIO ({@link GsoSender}). */
    volatile boolean gso;
    final GroReceiver receiver;
    private final Arena arena = Arena.ofShared();
    private final AtomicInteger users = new AtomicInteger();
    private volatile boolean closed;
    private boolean fdClosed;

    private UdpSocket(int fd, boolean v6, int port, boolean gso, boolean gro) {
        this.fd = fd;
        this.v6 = v6;
        this.port = port;
        this.gso = gso;
        this.gro = gro;
        this.receiver = new GroReceiver(this, arena);
    }

    /** A dual-stack socket on {@code [::]:port}, or IPv4 only where IPv6 cannot be had. */
    static UdpSocket open(int port, boolean gsoWanted, boolean groWanted) throws IOException {
        UdpSocket s = open(port, true, gsoWanted, groWanted);
        return s != null ? s : open(port, false, gsoWanted, groWanted);
    }

    /** A socket of one family bound to {@code port}; null when this machine has no IPv6 to offer. */
    private static UdpSocket open(int port, boolean v6, boolean gsoWanted, boolean groWanted) throws IOException {
        int fd = Syscalls.socket(v6 ? LibC.AF_INET6 : LibC.AF_INET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
        if (fd == -LibC.EAFNOSUPPORT && v6) {
            return null;
        }
        check(fd, "creating a UDP socket");
        try {
            if (v6) {
                check(Syscalls.setsockopt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, 0), "IPV6_V6ONLY");
            }
            bufferSize(fd, LibC.SO_RCVBUFFORCE, LibC.SO_RCVBUF);
            bufferSize(fd, LibC.SO_SNDBUFFORCE, LibC.SO_SNDBUF);
            int bound = bind(fd, port, v6);
            if (bound == -LibC.EADDRNOTAVAIL && v6) {
                Syscalls.close(fd); // IPv6 sockets exist but [::] cannot be bound (IPv6 disabled here)
                return null;
            }
            if (bound == -LibC.EADDRINUSE) {
                throw new BindException("Address already in use: UDP port " + port);
            }
            check(bound, "binding UDP port " + port);
            boolean gso = gsoWanted && Syscalls.getsockopt(fd, LibC.SOL_UDP, LibC.UDP_SEGMENT) >= 0;
            boolean gro = groWanted && Offloads.kernelAtLeast(5, 12)
                    && Syscalls.setsockopt(fd, LibC.SOL_UDP, LibC.UDP_GRO, 1) == 0;
            return new UdpSocket(fd, v6, localPort(fd), gso, gro);
        } catch (IOException | RuntimeException e) {
            Syscalls.close(fd);
            throw e;
        }
    }

    private static int bind(int fd, int port, boolean v6) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(NAME_STRIDE, 8);
            int len = SockAddr.write(addr, new Endpoint(anyAddress(v6), port), v6);
            return Syscalls.bind(fd, addr, len);
        }
    }

    private static InetAddress anyAddress(boolean v6) {
        try {
            return InetAddress.getByAddress(new byte[v6 ? 16 : 4]);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static int localPort(int fd) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment addr = a.allocate(NAME_STRIDE, 8);
            check(Syscalls.getsockname(fd, addr), "getsockname");
            return SockAddr.read(addr).port();
        }
    }

    /** Forces the buffer size where allowed (CAP_NET_ADMIN), else asks for it within the system's limit. */
    private static void bufferSize(int fd, int force, int plain) {
        if (Syscalls.setsockopt(fd, LibC.SOL_SOCKET, force, BUFFER) != 0) {
            Syscalls.setsockopt(fd, LibC.SOL_SOCKET, plain, BUFFER);
        }
    }

    private static void check(int result, String what) throws IOException {
        if (result < 0) {
            throw new IOException(what + ": " + LibC.strerror(-result) + " (errno " + -result + ")");
        }
    }

    void setMark(int value) throws IOException {
        int r = Syscalls.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_MARK, value);
        if (r < 0) {
            throw new IOException("setting SO_MARK " + value + ": " + LibC.strerror(-r)
                    + (r == -LibC.EPERM ? " (needs CAP_NET_ADMIN)" : ""));
        }
    }

    boolean isClosed() {
        return closed;
    }

    boolean acquire() {
        users.incrementAndGet();
        if (closed) {
            release();
            return false;
        }
        return true;
    }

    void release() {
        if (users.decrementAndGet() == 0 && closed) {
            closeFd();
        }
    }

    void close() {
        closed = true;
        Syscalls.shutdown(fd, LibC.SHUT_RDWR); // wakes a reader blocked in recvmmsg
        if (users.get() == 0) {
            closeFd();
        }
    }

    private synchronized void closeFd() {
        if (!fdClosed) {
            fdClosed = true;
            Syscalls.close(fd);
            arena.close();
        }
    }
}
