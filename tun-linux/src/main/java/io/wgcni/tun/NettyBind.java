package io.wgcni.tun;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.EventLoop;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.unix.Errors;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.channel.unix.SegmentedDatagramPacket;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.wgcni.wg.io.Bind;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.GsoTrains;
import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.net.BindException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The production {@link Bind}: one UDP socket through Netty, on the native epoll transport where it loads (batched
 * {@code recvmmsg}/{@code sendmmsg}, UDP GRO, {@code SO_MARK}) and on Netty's NIO transport elsewhere.
 *
 * <p>The socket is dual-stack on {@code [::]} ({@code IPV6_V6ONLY} off) where IPv6 works, else IPv4 on
 * {@code 0.0.0.0}. Each {@link #open} starts one event loop thread, which reads datagrams and copies them into a
 * bounded {@link ReceiveRing} (dropping and counting when the reader falls behind); {@link #receive} copies them
 * from there into the caller's packets. {@link #send} copies a batch into pooled direct buffers and hands it to the
 * event loop as one task that writes every datagram and flushes once (one {@code sendmmsg} on epoll).
 */
public final class NettyBind implements Bind {
    private static final Logger log = LoggerFactory.getLogger(NettyBind.class);

    /** Which Netty transport to use. */
    public enum Transport {
        /** Epoll when it loads, unless the system property {@value #TRANSPORT_PROPERTY} says {@code nio}. */
        AUTO,
        EPOLL,
        NIO
    }

    /** System property ({@code auto}, {@code epoll} or {@code nio}) read by {@link Transport#AUTO}. */
    public static final String TRANSPORT_PROPERTY = "wgcni.udp.transport";
    /** System property: {@code false} turns UDP GSO off (send each datagram on its own). */
    public static final String GSO_PROPERTY = "wgcni.udp.gso";

    /** Datagrams per {@link #receive} and per {@link #send} that the device should aim for. */
    public static final int BATCH_SIZE = 128;
    /** Room for any UDP payload (65,507 bytes over IPv4, 65,527 over IPv6) and for a GRO train of segments. */
    static final int MAX_DATAGRAM = 65535;
    /** recvmmsg slots per read on epoll: each is {@link #MAX_DATAGRAM} bytes, so one read buffer is 1 MiB. */
    static final int RECV_SLOTS = 16;
    /** Socket buffers, asked with SO_RCVBUFFORCE/SO_SNDBUFFORCE where allowed (as wireguard-go does). */
    static final int SOCKET_BUFFER = 7 << 20;
    /** The receive ring between the event loop and the reader, by default: sized for a node's busy interface. */
    static final int RING_BYTES = 8 << 20;
    /**
     * The smallest ring: twice the largest datagram, so that one always fits once the reader has caught up (a
     * datagram never wraps: one that does not fit before the end of the array starts the next lap).
     */
    static final int MIN_RING_BYTES = 1 << 17;
    /** Bytes handed to the event loop and not yet written past which {@link #send} waits, then drops. */
    static final int MAX_PENDING_SEND = 4 << 20;
    static final long SEND_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    // Linux socket option numbers (asm-generic/socket.h, in.h); Netty has no named option for these.
    private static final int SOL_SOCKET = 1;
    private static final int SO_SNDBUFFORCE = 32;
    private static final int SO_RCVBUFFORCE = 33;
    private static final int SO_MARK_OPT = 36;
    private static final int IPPROTO_IPV6 = 41;
    private static final int IPV6_V6ONLY_OPT = 26;
    private static final int EADDRINUSE = 98;

    /** SO_MARK through Netty's generic integer option: read back with {@code getOption} (getsockopt). */
    static final IntegerUnixChannelOption SO_MARK = new IntegerUnixChannelOption("SO_MARK", SOL_SOCKET, SO_MARK_OPT);
    static final IntegerUnixChannelOption IPV6_V6ONLY =
            new IntegerUnixChannelOption("IPV6_V6ONLY", IPPROTO_IPV6, IPV6_V6ONLY_OPT);
    private static final IntegerUnixChannelOption SO_RCVBUF_FORCE =
            new IntegerUnixChannelOption("SO_RCVBUFFORCE", SOL_SOCKET, SO_RCVBUFFORCE);
    private static final IntegerUnixChannelOption SO_SNDBUF_FORCE =
            new IntegerUnixChannelOption("SO_SNDBUFFORCE", SOL_SOCKET, SO_SNDBUFFORCE);

    private final boolean epoll;
    private final boolean allowIpv6;
    private final boolean gso;
    private final int ringBytes;
    private final Object lifecycle = new Object();
    private volatile Session session;
    private volatile int mark;

    private final AtomicLong droppedOnReceive = new AtomicLong();
    private final AtomicLong droppedOnSend = new AtomicLong();
    private final AtomicLong socketErrors = new AtomicLong();
    private final AtomicLong gsoTrains = new AtomicLong();

    /** Epoll where available, NIO otherwise (or when {@value #TRANSPORT_PROPERTY} is {@code nio}). */
    public NettyBind() {
        this(Transport.AUTO);
    }

    public NettyBind(Transport transport) {
        this(transport, RING_BYTES);
    }

    /**
     * With a receive ring (the heap buffer between the event loop and the device's reader) of {@code
     * receiveRingBytes}, rounded up to a power of two, at least {@value #MIN_RING_BYTES}. The default, 8 MiB,
     * absorbs line-rate bursts of a node's interface; a process that runs hundreds of small devices (node-manager's
     * container tunnels) gives each far less: the ring is allocated, and kept, for every open bind.
     */
    public NettyBind(Transport transport, int receiveRingBytes) {
        this(transport, true, !"false".equalsIgnoreCase(System.getProperty(GSO_PROPERTY, "true").trim()),
                receiveRingBytes);
    }

    /**
     * {@code allowIpv6 = false} binds an IPv4 socket even where IPv6 works (for tests of that fallback);
     * {@code gso = false} sends datagram by datagram even where UDP GSO works.
     */
    NettyBind(Transport transport, boolean allowIpv6, boolean gso) {
        this(transport, allowIpv6, gso, RING_BYTES);
    }

    private NettyBind(Transport transport, boolean allowIpv6, boolean gso, int ringBytes) {
        if (ringBytes < MIN_RING_BYTES) {
            throw new IllegalArgumentException("receive ring of " + ringBytes + " bytes is below " + MIN_RING_BYTES);
        }
        this.ringBytes = ringBytes;
        this.epoll = switch (transport) {
            case EPOLL -> {
                Epoll.ensureAvailability();
                yield true;
            }
            case NIO -> false;
            case AUTO -> {
                String forced = System.getProperty(TRANSPORT_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
                yield switch (forced) {
                    case "nio" -> false;
                    case "epoll" -> {
                        Epoll.ensureAvailability();
                        yield true;
                    }
                    default -> Epoll.isAvailable();
                };
            }
        };
        this.allowIpv6 = allowIpv6;
        this.gso = gso;
    }

    /** The transport actually in use: {@link Transport#EPOLL} or {@link Transport#NIO}. */
    public Transport transport() {
        return epoll ? Transport.EPOLL : Transport.NIO;
    }

    /** Datagrams dropped because the reader fell behind and the receive ring was full. */
    public long droppedOnReceive() {
        return droppedOnReceive.get();
    }

    /** Datagrams dropped by {@link #send} because the socket stayed unwritable past a short wait. */
    public long droppedOnSend() {
        return droppedOnSend.get();
    }

    /** Errors the socket reported on its own (a datagram the kernel refused to send, a failed read). */
    public long socketErrors() {
        return socketErrors.get();
    }

    @Override
    public int batchSize() {
        return BATCH_SIZE;
    }

    /** The bound address ({@code [::]:port} or {@code 0.0.0.0:port}), or null when closed. */
    public InetSocketAddress localAddress() {
        Session s = session;
        return s == null ? null : (InetSocketAddress) s.channel.localAddress();
    }

    /** The open channel, for tests that look at its socket options; null when closed. */
    Channel channel() {
        Session s = session;
        return s == null ? null : s.channel;
    }

    @Override
    public int open(int port) throws IOException {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        synchronized (lifecycle) {
            if (session != null) {
                throw new IOException("already open on port " + localAddress().getPort());
            }
            IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
            MultiThreadIoEventLoopGroup group =
                    new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("wg-udp", true), io);
            try {
                Session s = bindSocket(group, port, allowIpv6);
                session = s;
                return ((InetSocketAddress) s.channel.localAddress()).getPort();
            } catch (IOException | RuntimeException | Error e) {
                shutdown(group);
                throw e;
            }
        }
    }

    private Session bindSocket(MultiThreadIoEventLoopGroup group, int port, boolean ipv6) throws IOException {
        Channel ch;
        java.nio.channels.DatagramChannel jdk = null;
        boolean v6 = ipv6;
        if (epoll) {
            try {
                ch = new EpollDatagramChannel(v6 ? SocketProtocolFamily.INET6 : SocketProtocolFamily.INET);
            } catch (ChannelException e) {
                if (!v6) {
                    throw new IOException("cannot create a UDP socket", e);
                }
                v6 = false;
                ch = new EpollDatagramChannel(SocketProtocolFamily.INET);
            }
        } else {
            try {
                jdk = java.nio.channels.DatagramChannel.open(
                        v6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
            } catch (UnsupportedOperationException | IOException e) {
                if (!v6) {
                    throw e;
                }
                v6 = false;
                jdk = java.nio.channels.DatagramChannel.open(StandardProtocolFamily.INET);
            }
            ch = new NioDatagramChannel(jdk);
        }
        AtomicLong dropped = droppedOnReceive;
        // One entry per KiB: room for as many datagrams as a ring full of small ones (8192 for the default).
        ReceiveRing ring = new ReceiveRing(ringBytes, ringBytes >> 10, dropped);
        Session s = new Session(ch, jdk, ring, v6);
        try {
            // Registered first: the close future (which frees the read buffer) runs on the channel's loop.
            Channel created = ch;
            new Bootstrap().group(group).channelFactory((ChannelFactory<Channel>) () -> created).handler(s.reader)
                    .register().syncUninterruptibly();
            s.loop = ch.eventLoop();
            configure(s);
            InetSocketAddress local = new InetSocketAddress(anyAddress(v6), port);
            ChannelFuture bound = ch.bind(local).awaitUninterruptibly();
            if (!bound.isSuccess()) {
                throw bindFailure(bound.cause(), local);
            }
            s.group = group;
            return s;
        } catch (IOException | RuntimeException e) {
            ring.close();
            try {
                ch.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
            } catch (RuntimeException closing) {
                e.addSuppressed(closing);
            }
            if (v6 && isAddressFamilyProblem(e)) {
                // IPv6 sockets exist but [::] cannot be bound (IPv6 disabled): fall back to IPv4.
                log.debug("IPv6 bind failed ({}), binding IPv4 only", e.toString());
                return bindSocket(group, port, false);
            }
            throw e;
        }
    }

    private static boolean isAddressFamilyProblem(Exception e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("Cannot assign requested address") || m.contains("Address family not supported");
    }

    private static InetAddress anyAddress(boolean v6) {
        try {
            return v6 ? InetAddress.getByAddress(new byte[16]) : InetAddress.getByAddress(new byte[4]);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static IOException bindFailure(Throwable cause, InetSocketAddress local) {
        if (cause instanceof BindException b) {
            return b;
        }
        boolean inUse = cause instanceof Errors.NativeIoException n && n.expectedErr() == -EADDRINUSE
                || String.valueOf(cause.getMessage()).contains("Address already in use");
        if (inUse) {
            BindException b = new BindException("Address already in use: UDP port " + local.getPort());
            b.initCause(cause);
            return b;
        }
        if (cause instanceof IOException io) {
            return io;
        }
        return new IOException("cannot bind UDP " + local, cause);
    }

    private void configure(Session s) throws IOException {
        Channel ch = s.channel;
        var config = ch.config();
        config.setOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                new WriteBufferWaterMark(MAX_PENDING_SEND / 4, MAX_PENDING_SEND));
        if (epoll) {
            if (s.ipv6) {
                config.setOption(IPV6_V6ONLY, 0);
            }
            // One read buffer holds RECV_SLOTS datagrams of any size; recvmmsg fills as many as are queued.
            config.setOption(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, MAX_DATAGRAM);
            config.setOption(ChannelOption.RECVBUF_ALLOCATOR, s.recvBuffer(MAX_DATAGRAM * RECV_SLOTS, 1024));
            // No UDP GRO, on purpose: Netty 4.2.18's recvmmsg path mishandles it twice. It passes no control
            // buffer unless IP_RECVORIGDSTADDR is on, so a coalesced train arrives as one big "datagram"
            // (netty/netty#17492, fixed after 4.2.18); and when a read returns a single train it makes the packet
            // twice and leaks a reference to the read buffer. Without UDP_GRO the kernel splits trains itself.
            // NettyBindThroughputTest checks both; turn GRO on only with a Netty that passes them.
            s.gso = gso && EpollDatagramChannel.isSegmentedDatagramPacketSupported();
            if (!trySet(ch, SO_RCVBUF_FORCE, SOCKET_BUFFER)) {
                trySet(ch, ChannelOption.SO_RCVBUF, SOCKET_BUFFER);
            }
            if (!trySet(ch, SO_SNDBUF_FORCE, SOCKET_BUFFER)) {
                trySet(ch, ChannelOption.SO_SNDBUF, SOCKET_BUFFER);
            }
            int m = mark;
            if (m != 0) {
                applyMark(ch, m);
            }
        } else {
            // NIO reads one datagram per receive() into a buffer that must hold the largest. It reads a burst
            // before handing any on, so one shared buffer cannot serve it: a buffer per datagram, from the pool.
            config.setOption(ChannelOption.RECVBUF_ALLOCATOR,
                    new FixedRecvByteBufAllocator(MAX_DATAGRAM).maxMessagesPerRead(64));
            trySet(ch, ChannelOption.SO_RCVBUF, SOCKET_BUFFER);
            trySet(ch, ChannelOption.SO_SNDBUF, SOCKET_BUFFER);
        }
    }

    private static <T> boolean trySet(Channel ch, ChannelOption<T> option, T value) {
        try {
            return ch.config().setOption(option, value);
        } catch (ChannelException e) {
            log.debug("UDP socket option {}={} refused: {}", option, value, e.toString());
            return false;
        }
    }

    /**
     * Whether sends coalesce runs of same-size datagrams into UDP GSO trains (epoll, Linux 4.18+); it turns itself
     * off for good if the kernel ever refuses a train. False when closed.
     */
    public boolean udpGso() {
        Session s = session;
        return s != null && s.gso;
    }

    /** GSO trains (two datagrams or more in one send) handed to the socket since this bind was made. */
    long gsoTrains() {
        return gsoTrains.get();
    }

    @Override
    public void setMark(int mark) throws IOException {
        if (!epoll && mark != 0) {
            throw new IOException("fwmark needs the epoll transport (SO_MARK); this bind runs on NIO");
        }
        synchronized (lifecycle) {
            Session s = session;
            if (s != null && epoll) {
                applyMark(s.channel, mark);
            }
            this.mark = mark;
        }
    }

    private static void applyMark(Channel ch, int mark) throws IOException {
        try {
            ch.config().setOption(SO_MARK, mark);
        } catch (ChannelException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new IOException("cannot set SO_MARK " + mark + " (needs CAP_NET_ADMIN): " + c.getMessage(), c);
        }
    }

    @Override
    public int receive(Packet[] packets, int max) throws IOException {
        Session s = session;
        if (s == null) {
            return -1;
        }
        return s.ring.take(packets, max);
    }

    @Override
    public void send(Packet[] packets, int count, Endpoint to) throws IOException {
        Session s = session;
        if (s == null) {
            throw new SocketException("bind is closed");
        }
        if (count <= 0) {
            return;
        }
        InetAddress address = to.address();
        if (!s.ipv6 && address instanceof Inet6Address && unmapped((Inet6Address) address) == null) {
            throw new SocketException("no IPv6 on this bind (bound to 0.0.0.0): cannot send to " + to);
        }
        int bytes = 0;
        for (int i = 0; i < count; i++) {
            bytes += packets[i].length;
        }
        if (!s.admit(bytes)) {
            droppedOnSend.addAndGet(count);
            return;
        }
        InetSocketAddress recipient = to.toSocketAddress();
        ByteBufAllocator alloc = s.channel.alloc();
        DatagramPacket[] out = new DatagramPacket[count];
        int k = 0;
        boolean gso = s.gso;
        try {
            for (int i = 0; i < count; ) {
                int size = packets[i].length;
                int n = gso ? GsoTrains.length(packets, i, count) : 1;
                int total = 0;
                for (int j = i; j < i + n; j++) {
                    total += packets[j].length;
                }
                ByteBuf b = alloc.directBuffer(total, total);
                for (int j = i; j < i + n; j++) {
                    b.writeBytes(packets[j].buf, packets[j].offset, packets[j].length);
                }
                if (n > 1) {
                    out[k++] = new SegmentedDatagramPacket(b, size, recipient);
                    gsoTrains.incrementAndGet();
                } else {
                    out[k++] = new DatagramPacket(b, recipient);
                }
                i += n;
            }
            s.loop.execute(new SendTask(s, out, k, bytes));
        } catch (RuntimeException e) {
            for (DatagramPacket d : out) {
                if (d != null) {
                    d.release();
                }
            }
            s.pendingSend.addAndGet(-bytes);
            if (e instanceof RejectedExecutionException) {
                throw new SocketException("bind is closed");
            }
            throw e;
        }
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            Session s = session;
            if (s == null) {
                return;
            }
            session = null;
            s.ring.close();
            s.channel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
            shutdown(s.group);
        }
    }

    private static void shutdown(MultiThreadIoEventLoopGroup group) {
        // No quiet period: nothing else uses this loop, and the socket is already closed.
        Future<?> f = group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        f.awaitUninterruptibly(3, TimeUnit.SECONDS);
    }

    /** The sender as the UAPI should show it: an IPv4-mapped IPv6 address becomes the IPv4 address. */
    static Endpoint endpointOf(InetSocketAddress sa) {
        InetAddress a = sa.getAddress();
        if (a instanceof Inet6Address v6) {
            Inet4Address v4 = unmapped(v6);
            if (v4 != null) {
                a = v4;
            }
        }
        return new Endpoint(a, sa.getPort());
    }

    private static Inet4Address unmapped(Inet6Address a) {
        byte[] b = a.getAddress();
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return null;
            }
        }
        if (b[10] != (byte) 0xff || b[11] != (byte) 0xff) {
            return null;
        }
        try {
            return (Inet4Address) InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]});
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** One open socket: its channel, loop and receive ring. A reopen makes a new one. */
    private final class Session {
        final Channel channel;
        final java.nio.channels.DatagramChannel jdk;
        final ReceiveRing ring;
        final boolean ipv6;
        final Reader reader;
        final AtomicLong pendingSend = new AtomicLong();
        final ByteBuffer empty = ByteBuffer.allocateDirect(1).limit(0);
        volatile MultiThreadIoEventLoopGroup group;
        volatile EventLoop loop;
        /** Cleared by the event loop when the kernel refuses a GSO train. */
        volatile boolean gso;

        Session(Channel channel, java.nio.channels.DatagramChannel jdk, ReceiveRing ring, boolean ipv6) {
            this.channel = channel;
            this.jdk = jdk;
            this.ring = ring;
            this.ipv6 = ipv6;
            this.reader = new Reader(ring);
        }

        /** The epoll read buffer, freed once the channel has closed (on its event loop, after its last read). */
        ReusedRecvByteBufAllocator recvBuffer(int size, int maxMessagesPerRead) {
            ReusedRecvByteBufAllocator a = new ReusedRecvByteBufAllocator(size, maxMessagesPerRead);
            channel.closeFuture().addListener(f -> a.release());
            return a;
        }

        /**
         * Counts {@code bytes} as pending unless the socket is backed up: then waits up to {@link #SEND_WAIT_NANOS}
         * for it to drain and gives up (false) after that. A short wait turns a burst into backpressure on the
         * crypto workers, as a blocking socket would; a bound on it keeps a stuck socket from stalling them: UDP
         * may drop, and the inner protocols recover from a drop.
         */
        boolean admit(int bytes) {
            long deadline = 0;
            while (pendingSend.get() > MAX_PENDING_SEND || !channel.isWritable()) {
                if (!channel.isOpen()) {
                    return false;
                }
                long now = System.nanoTime();
                if (deadline == 0) {
                    deadline = now + SEND_WAIT_NANOS;
                } else if (now - deadline > 0) {
                    return false;
                }
                LockSupport.parkNanos(50_000);
            }
            pendingSend.addAndGet(bytes);
            return true;
        }

        /** Event loop: a zero-length datagram, which Netty's channels skip as "nothing to write". */
        void sendEmpty(InetSocketAddress to) {
            ChannelOutboundBuffer queued = channel.unsafe().outboundBuffer();
            if (queued == null || !queued.isEmpty()) {
                // Closed, or earlier datagrams wait for the socket: sending now would overtake them.
                droppedOnSend.incrementAndGet();
                return;
            }
            try {
                if (jdk != null) {
                    jdk.send(empty.duplicate(), to);
                } else {
                    ((Socket) ((EpollDatagramChannel) channel).fd()).sendTo(empty, 0, 0, to.getAddress(), to.getPort());
                }
            } catch (IOException e) {
                socketErrors.incrementAndGet();
            }
        }
    }

    /** Writes one batch on the event loop and flushes once: epoll turns the flush into sendmmsg. */
    private final class SendTask implements Runnable {
        private final Session s;
        private final DatagramPacket[] packets;
        private final int count;
        private final int bytes;

        SendTask(Session s, DatagramPacket[] packets, int count, int bytes) {
            this.s = s;
            this.packets = packets;
            this.count = count;
            this.bytes = bytes;
        }

        @Override
        public void run() {
            Channel ch = s.channel;
            try {
                for (int i = 0; i < count; i++) {
                    DatagramPacket d = packets[i];
                    packets[i] = null;
                    if (d instanceof SegmentedDatagramPacket) {
                        ch.write(d).addListener(this::trainWritten);
                    } else if (d.content().isReadable()) {
                        ch.write(d, ch.voidPromise());
                    } else {
                        d.release();
                        ch.flush();
                        s.sendEmpty(d.recipient());
                    }
                }
                ch.flush();
            } finally {
                for (int i = 0; i < count; i++) {
                    if (packets[i] != null) {
                        packets[i].release();
                    }
                }
                s.pendingSend.addAndGet(-bytes);
            }
        }

        /** A refused train (EIO: no checksum offload; EINVAL: a segment over the path MTU) turns GSO off. */
        private void trainWritten(Future<? super Void> f) {
            if (!f.isSuccess() && !(f.cause() instanceof java.nio.channels.ClosedChannelException)) {
                socketErrors.incrementAndGet();
                if (s.gso) {
                    s.gso = false;
                    log.info("UDP GSO send failed ({}); sending datagrams one by one from now on",
                            f.cause().toString());
                }
            }
        }
    }

    /** The pipeline's only handler: datagrams into the ring, errors counted. */
    private final class Reader extends ChannelInboundHandlerAdapter {
        private final ReceiveRing ring;

        Reader(ReceiveRing ring) {
            this.ring = ring;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof DatagramPacket d) {
                try {
                    ring.offer(d.content(), d.sender());
                } finally {
                    d.release();
                }
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ring.signal();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof java.nio.channels.ClosedChannelException) {
                return; // a batch that reached the loop after close(): already released, nothing to count
            }
            socketErrors.incrementAndGet();
            log.debug("UDP socket error: {}", cause.toString());
        }
    }
}
