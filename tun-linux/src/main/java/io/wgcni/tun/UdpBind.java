package io.wgcni.tun;

import io.wgcni.wg.io.Bind;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.BindException;
import java.net.SocketException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * wg-core's {@link Bind} on a Linux UDP socket, through java.lang.foreign: no event loop, no thread of its own. The
 * device's reader thread blocks in {@code recvmmsg}; senders call {@code sendmmsg} themselves.
 *
 * <ul>
 * <li>The socket: dual-stack {@code [::]} ({@code IPV6_V6ONLY} off), IPv4 {@code 0.0.0.0} where IPv6 is not
 * available; socket buffers of {@value #SOCKET_BUFFER} bytes, forced where allowed (as wireguard-go does);
 * {@code SO_MARK}.
 * <li>Send, GSO ({@code UDP_SEGMENT}): a run of datagrams of one size (the last may be shorter), up to
 * {@value #MAX_GSO_SEGMENTS} of them and {@value #MAX_GSO_BYTES} bytes, goes out as one message that the kernel cuts
 * into datagrams; a send carries several such trains. The datagrams are copied once, into this thread's native send
 * buffer. A train the kernel refuses with EIO (no checksum offload on the way out) turns GSO off for good, logged
 * once; one refused with EINVAL (a segment over the path MTU) goes again as plain datagrams.
 * <li>Receive, GRO ({@code UDP_GRO}, Linux 5.12 or later, as wireguard-go): one message may carry a run of datagrams
 * of one flow, with their size in a control message; they are cut apart and copied into the caller's packets. A
 * datagram longer than its packet's buffer is dropped and counted ({@link #droppedOversized}).
 * </ul>
 *
 * <p>{@link #receive} is for one thread at a time (the device's reader); {@link #send} for any number at once.
 * {@link #close} wakes a blocked receive ({@code shutdown}) and closes the descriptor once no call uses it.
 */
public final class UdpBind implements Bind {
    private static final Logger log = LoggerFactory.getLogger(UdpBind.class);

    static final int BATCH = 128;
    /** Messages per {@code recvmmsg}: each may carry a GRO run of up to 64 KiB. */
    static final int RECV_MESSAGES = 8;
    static final int MAX_DATAGRAM = 65535;
    static final int SOCKET_BUFFER = 7 << 20;
    /** The kernel's UDP_MAX_SEGMENTS before Linux 6.9. */
    static final int MAX_GSO_SEGMENTS = 64;
    /** Under the largest UDP payload over IPv4 (65,507), with room to spare. */
    static final int MAX_GSO_BYTES = 65000;

    // struct mmsghdr / msghdr / iovec / cmsghdr on LP64 Linux (x86_64 and aarch64 alike).
    private static final int MSG_NAME = 0;
    private static final int MSG_NAMELEN = 8;
    private static final int MSG_IOV = 16;
    private static final int MSG_IOVLEN = 24;
    private static final int MSG_CONTROL = 32;
    private static final int MSG_CONTROLLEN = 40;
    private static final int MSG_LEN = 56;
    private static final int MMSGHDR = 64;
    private static final int IOVEC = 16;
    private static final int CMSG_LEN = 0;
    private static final int CMSG_LEVEL = 8;
    private static final int CMSG_TYPE = 12;
    private static final int CMSG_DATA = 16;
    /** CMSG_SPACE(sizeof(int)): room for UDP_GRO's int or UDP_SEGMENT's uint16_t. */
    private static final int CMSG_SPACE = 24;
    private static final int NAME_STRIDE = 32;
    private static final ValueLayout.OfLong SIZE_T = ValueLayout.JAVA_LONG;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;

    private final boolean gsoWanted;
    private final boolean groWanted;
    private final Object lifecycle = new Object();
    private volatile Session session;
    private volatile int mark;
    private final LongAdder droppedOversized = new LongAdder();
    private final LongAdder socketErrors = new LongAdder();
    private final ThreadLocal<SendBuffer> sendBuffers = ThreadLocal.withInitial(SendBuffer::new);

    /** With GSO and GRO unless switched off ({@link Offloads}). */
    public UdpBind() {
        this(Offloads.UDP_GSO.enabled(), Offloads.UDP_GRO.enabled());
    }

    public UdpBind(boolean gso, boolean gro) {
        this.gsoWanted = gso;
        this.groWanted = gro;
    }

    @Override
    public int batchSize() {
        return BATCH;
    }

    /** Datagrams dropped on receive because they did not fit the caller's buffer. */
    public long droppedOversized() {
        return droppedOversized.sum();
    }

    /** Send and receive errors the socket reported (a refused message, an ICMP error, a failed read). */
    public long socketErrors() {
        return socketErrors.sum();
    }

    /** Whether trains go out as one GSO send (false before open, when switched off, or after the kernel refused). */
    public boolean gso() {
        Session s = session;
        return s != null && s.gso;
    }

    /** Whether the socket coalesces what it receives (UDP_GRO). */
    public boolean gro() {
        Session s = session;
        return s != null && s.gro;
    }

    /** The bound port, or 0 when closed. */
    public int port() {
        Session s = session;
        return s == null ? 0 : s.port;
    }

    // ---- lifecycle ----

    @Override
    public int open(int port) throws IOException {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        synchronized (lifecycle) {
            if (session != null) {
                throw new IOException("already open on UDP port " + session.port);
            }
            Session s = Session.open(port, gsoWanted, groWanted);
            if (mark != 0) {
                s.setMark(mark);
            }
            session = s;
            return s.port;
        }
    }

    @Override
    public void setMark(int value) throws IOException {
        synchronized (lifecycle) {
            Session s = session;
            if (s != null) {
                s.setMark(value);
            }
            mark = value;
        }
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            Session s = session;
            session = null;
            if (s != null) {
                s.close();
            }
        }
    }

    // ---- receive ----

    @Override
    public int receive(Packet[] packets, int max) throws IOException {
        Session s = session;
        if (s == null || !s.acquire()) {
            return -1;
        }
        try {
            return s.receive(packets, Math.min(max, packets.length), droppedOversized, socketErrors);
        } finally {
            s.release();
        }
    }

    // ---- send ----

    @Override
    public void send(Packet[] packets, int count, Endpoint to) throws IOException {
        Session s = session;
        if (s == null || !s.acquire()) {
            throw new SocketException("UDP bind is closed");
        }
        try {
            SendBuffer b = sendBuffers.get();
            int nameLen = SockAddr.write(b.name, to, s.v6);
            if (nameLen < 0) {
                throw new SocketException("cannot send to " + to + " from an IPv4-only socket");
            }
            int failed = 0;
            int i = 0;
            while (i < count) {
                int messages = b.fill(packets, i, count, nameLen, s.gso);
                int sent = 0;
                while (sent < messages) {
                    int r = Syscalls.sendmmsg(s.fd, b.msgs.asSlice((long) sent * MMSGHDR), messages - sent, 0);
                    if (r > 0) {
                        sent += r;
                        continue;
                    }
                    if (r == -LibC.EINTR) {
                        continue;
                    }
                    int segments = b.segments[sent];
                    if (segments > 1 && (r == -LibC.EIO || r == -LibC.EINVAL)) {
                        if (r == -LibC.EIO && s.gso) {
                            s.gso = false;
                            log.info("UDP GSO refused by the kernel (EIO: no checksum offload on the way out); sending"
                                    + " datagrams one by one from now on");
                        }
                        // Send this train's datagrams apart, then carry on with the rest.
                        sendSingly(s, b, sent, nameLen);
                        sent++;
                        continue;
                    }
                    socketErrors.increment();
                    failed += segments;
                    sent++; // UDP may drop: skip what the kernel refused, send the rest
                }
                i += b.datagrams;
            }
            if (failed > 0) {
                throw new SocketException(failed + " of " + count + " datagrams to " + to + " refused by the kernel");
            }
        } finally {
            s.release();
        }
    }

    /** Sends the datagrams of train {@code m} in {@code b} as separate messages. */
    private void sendSingly(Session s, SendBuffer b, int m, int nameLen) {
        int size = b.segmentSize[m];
        long total = b.dataBytes[m];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocate(MMSGHDR, 8);
            MemorySegment iov = arena.allocate(IOVEC, 8);
            one.set(ValueLayout.ADDRESS, MSG_NAME, b.name);
            one.set(INT, MSG_NAMELEN, nameLen);
            one.set(ValueLayout.ADDRESS, MSG_IOV, iov);
            one.set(SIZE_T, MSG_IOVLEN, 1);
            for (long off = 0; off < total; off += size) {
                iov.set(ValueLayout.ADDRESS, 0, b.data.asSlice(b.dataOffset[m] + off));
                iov.set(SIZE_T, 8, Math.min(size, total - off));
                int r;
                do {
                    r = Syscalls.sendmmsg(s.fd, one, 1, 0);
                } while (r == -LibC.EINTR);
                if (r < 0) {
                    socketErrors.increment();
                }
            }
        }
    }

    /**
     * One thread's send memory: message headers, iovecs, control messages and the datagrams' bytes, native and
     * reused; {@link #fill} lays one call's worth of trains into it.
     */
    private static final class SendBuffer {
        final Arena arena = Arena.ofAuto();
        final MemorySegment msgs = arena.allocate((long) BATCH * MMSGHDR, 8);
        final MemorySegment iovs = arena.allocate((long) BATCH * IOVEC, 8);
        final MemorySegment controls = arena.allocate((long) BATCH * CMSG_SPACE, 8);
        final MemorySegment name = arena.allocate(NAME_STRIDE, 8);
        final int[] segments = new int[BATCH];
        final int[] segmentSize = new int[BATCH];
        final long[] dataOffset = new long[BATCH];
        final long[] dataBytes = new long[BATCH];
        MemorySegment data = arena.allocate(256 << 10, 16);
        /** Datagrams taken by the last {@link #fill}. */
        int datagrams;

        /**
         * Lays datagrams {@code ps[from..)} into messages, a GSO train per message where {@code gso}, as many as
         * fit in one call; returns the number of messages ({@link #datagrams} tells how many datagrams).
         */
        int fill(Packet[] ps, int from, int count, int nameLen, boolean gso) {
            long used = 0;
            int m = 0;
            int i = from;
            while (i < count && m < BATCH) {
                int size = ps[i].length;
                int n = gso ? trainLength(ps, i, count, size) : 1;
                long bytes = 0;
                for (int k = 0; k < n; k++) {
                    bytes += ps[i + k].length;
                }
                if (used + bytes > data.byteSize()) {
                    if (m > 0) {
                        break; // send what is laid out; the rest in the next call
                    }
                    data = arena.allocate(Math.max(bytes, 2 * data.byteSize()), 16);
                }
                MemorySegment start = data.asSlice(used, bytes);
                long off = 0;
                for (int k = 0; k < n; k++) {
                    Packet p = ps[i + k];
                    MemorySegment.copy(p.buf, p.offset, start, ValueLayout.JAVA_BYTE, off, p.length);
                    off += p.length;
                }
                MemorySegment msg = msgs.asSlice((long) m * MMSGHDR, MMSGHDR);
                MemorySegment iov = iovs.asSlice((long) m * IOVEC, IOVEC);
                iov.set(ValueLayout.ADDRESS, 0, start);
                iov.set(SIZE_T, 8, bytes);
                msg.set(ValueLayout.ADDRESS, MSG_NAME, name);
                msg.set(INT, MSG_NAMELEN, nameLen);
                msg.set(ValueLayout.ADDRESS, MSG_IOV, iov);
                msg.set(SIZE_T, MSG_IOVLEN, 1);
                if (n > 1) {
                    MemorySegment c = controls.asSlice((long) m * CMSG_SPACE, CMSG_SPACE);
                    c.set(SIZE_T, CMSG_LEN, CMSG_DATA + 2);
                    c.set(INT, CMSG_LEVEL, LibC.SOL_UDP);
                    c.set(INT, CMSG_TYPE, LibC.UDP_SEGMENT);
                    c.set(ValueLayout.JAVA_SHORT, CMSG_DATA, (short) size);
                    msg.set(ValueLayout.ADDRESS, MSG_CONTROL, c);
                    msg.set(SIZE_T, MSG_CONTROLLEN, CMSG_SPACE);
                } else {
                    msg.set(ValueLayout.ADDRESS, MSG_CONTROL, MemorySegment.NULL);
                    msg.set(SIZE_T, MSG_CONTROLLEN, 0);
                }
                segments[m] = n;
                segmentSize[m] = size;
                dataOffset[m] = used;
                dataBytes[m] = bytes;
                used += bytes;
                i += n;
                m++;
            }
            datagrams = i - from;
            return m;
        }
    }

    /**
     * How many datagrams from {@code ps[i]} on make one GSO train: a run of {@code size}-byte datagrams, plus one
     * shorter one to end it (the kernel cuts a train into {@code size}-byte segments and a remainder).
     */
    static int trainLength(Packet[] ps, int i, int count, int size) {
        if (size == 0) {
            return 1;
        }
        int max = Math.min(MAX_GSO_SEGMENTS, MAX_GSO_BYTES / size);
        int n = 1;
        while (i + n < count && n < max) {
            int next = ps[i + n].length;
            if (next == size) {
                n++;
            } else {
                if (next > 0 && next < size) {
                    n++;
                }
                break;
            }
        }
        return n;
    }

    // ---- the socket ----

    /** One open socket and its receive memory; a reopen makes a new one. */
    private static final class Session {
        final int fd;
        final boolean v6;
        final int port;
        final boolean gro;
        volatile boolean gso;
        private final Arena arena = Arena.ofShared();
        private final AtomicInteger users = new AtomicInteger();
        private volatile boolean closed;
        private boolean fdClosed;
        // Receive memory and the reader's position in what the last recvmmsg brought.
        private final MemorySegment msgs = arena.allocate((long) RECV_MESSAGES * MMSGHDR, 8);
        private final MemorySegment iovs = arena.allocate((long) RECV_MESSAGES * IOVEC, 8);
        private final MemorySegment names = arena.allocate((long) RECV_MESSAGES * NAME_STRIDE, 8);
        private final MemorySegment controls = arena.allocate((long) RECV_MESSAGES * CMSG_SPACE, 8);
        private final MemorySegment data = arena.allocate((long) RECV_MESSAGES * (MAX_DATAGRAM + 1), 16);
        private final MemorySegment lastName = arena.allocate(NAME_STRIDE, 8);
        private Endpoint lastEndpoint;
        private int received;
        private int message;
        private int position;

        private Session(int fd, boolean v6, int port, boolean gso, boolean gro) {
            this.fd = fd;
            this.v6 = v6;
            this.port = port;
            this.gso = gso;
            this.gro = gro;
            for (int m = 0; m < RECV_MESSAGES; m++) {
                MemorySegment iov = iovs.asSlice((long) m * IOVEC, IOVEC);
                iov.set(ValueLayout.ADDRESS, 0, data.asSlice((long) m * (MAX_DATAGRAM + 1), MAX_DATAGRAM + 1));
                iov.set(SIZE_T, 8, MAX_DATAGRAM + 1);
                MemorySegment msg = msgs.asSlice((long) m * MMSGHDR, MMSGHDR);
                msg.set(ValueLayout.ADDRESS, MSG_NAME, names.asSlice((long) m * NAME_STRIDE, NAME_STRIDE));
                msg.set(ValueLayout.ADDRESS, MSG_IOV, iov);
                msg.set(SIZE_T, MSG_IOVLEN, 1);
                msg.set(ValueLayout.ADDRESS, MSG_CONTROL, controls.asSlice((long) m * CMSG_SPACE, CMSG_SPACE));
            }
        }

        /** A dual-stack socket on {@code [::]:port}, or IPv4 only where IPv6 cannot be had. */
        static Session open(int port, boolean gsoWanted, boolean groWanted) throws IOException {
            Session s = open(port, true, gsoWanted, groWanted);
            return s != null ? s : open(port, false, gsoWanted, groWanted);
        }

        /** A socket of one family bound to {@code port}; null when this machine has no IPv6 to offer. */
        private static Session open(int port, boolean v6, boolean gsoWanted, boolean groWanted) throws IOException {
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
                return new Session(fd, v6, localPort(fd), gso, gro);
            } catch (IOException | RuntimeException e) {
                Syscalls.close(fd);
                throw e;
            }
        }

        private static int bind(int fd, int port, boolean v6) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment addr = a.allocate(NAME_STRIDE, 8);
                Endpoint any = new Endpoint(anyAddress(v6), port);
                int len = SockAddr.write(addr, any, v6);
                return Syscalls.bind(fd, addr, len);
            }
        }

        private static java.net.InetAddress anyAddress(boolean v6) {
            try {
                return java.net.InetAddress.getByAddress(new byte[v6 ? 16 : 4]);
            } catch (java.net.UnknownHostException e) {
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
            if (Syscalls.setsockopt(fd, LibC.SOL_SOCKET, force, SOCKET_BUFFER) != 0) {
                Syscalls.setsockopt(fd, LibC.SOL_SOCKET, plain, SOCKET_BUFFER);
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

        /** Cuts what the last recvmmsg brought into packets; blocks for more only when nothing is left. */
        int receive(Packet[] packets, int max, LongAdder oversized, LongAdder errors) throws IOException {
            int n = 0;
            while (n < max) {
                if (message == received) {
                    if (n > 0) {
                        return n; // never wait with datagrams in hand
                    }
                    if (!fill(errors)) {
                        return -1;
                    }
                    continue;
                }
                MemorySegment msg = msgs.asSlice((long) message * MMSGHDR, MMSGHDR);
                int length = msg.get(INT, MSG_LEN);
                int segment = segmentSize(msg, length);
                int take = Math.min(segment, length - position);
                if (take > 0 || length == 0) { // an empty datagram too: the device counts it as malformed
                    Packet p = packets[n];
                    if (take > p.buf.length) {
                        oversized.increment(); // buffers are never grown for a datagram (Bind#receive)
                    } else {
                        MemorySegment.copy(data, ValueLayout.JAVA_BYTE,
                                (long) message * (MAX_DATAGRAM + 1) + position, p.buf, 0, take);
                        p.set(0, take);
                        p.endpoint = endpoint(msg);
                        n++;
                    }
                }
                position += Math.max(take, 1);
                if (position >= length) {
                    message++;
                    position = 0;
                }
            }
            return n;
        }

        /** Blocks in recvmmsg until at least one message; false once the socket is closed. */
        private boolean fill(LongAdder errors) throws IOException {
            while (true) {
                if (closed) {
                    return false;
                }
                for (int m = 0; m < RECV_MESSAGES; m++) {
                    MemorySegment msg = msgs.asSlice((long) m * MMSGHDR, MMSGHDR);
                    msg.set(INT, MSG_NAMELEN, SockAddr.SIZE);
                    msg.set(SIZE_T, MSG_CONTROLLEN, gro ? CMSG_SPACE : 0);
                }
                int r = Syscalls.recvmmsg(fd, msgs, RECV_MESSAGES, LibC.MSG_WAITFORONE);
                if (closed) {
                    return false;
                }
                if (r > 0) {
                    received = r;
                    message = 0;
                    position = 0;
                    return true;
                }
                if (r == 0 || r == -LibC.EINTR || r == -LibC.EAGAIN) {
                    continue;
                }
                // An ICMP error reported on the socket (ECONNREFUSED...), or worse: count it, and go on reading
                // unless the descriptor itself is broken.
                errors.increment();
                if (r == -LibC.EBADF || r == -LibC.EINVAL) {
                    throw new IOException("UDP receive: " + LibC.strerror(-r));
                }
            }
        }

        /** The GRO segment size of a message, or its whole length when it carries one datagram. */
        private int segmentSize(MemorySegment msg, int length) {
            if (!gro || msg.get(SIZE_T, MSG_CONTROLLEN) < CMSG_DATA + 4) {
                return length;
            }
            MemorySegment c = msg.get(ValueLayout.ADDRESS, MSG_CONTROL).reinterpret(CMSG_SPACE);
            if (c.get(INT, CMSG_LEVEL) == LibC.SOL_UDP && c.get(INT, CMSG_TYPE) == LibC.UDP_GRO) {
                int size = c.get(INT, CMSG_DATA);
                return size > 0 ? size : length;
            }
            return length;
        }

        /** The sender; consecutive datagrams from one sender share one Endpoint. */
        private Endpoint endpoint(MemorySegment msg) {
            MemorySegment name = msg.get(ValueLayout.ADDRESS, MSG_NAME).reinterpret(NAME_STRIDE);
            if (lastEndpoint == null || !SockAddr.same(name, lastName)) {
                lastEndpoint = SockAddr.read(name);
                MemorySegment.copy(name, 0, lastName, 0, NAME_STRIDE);
            }
            return lastEndpoint;
        }
    }
}
