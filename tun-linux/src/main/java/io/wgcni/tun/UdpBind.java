package io.wgcni.tun;

import io.wgcni.wg.io.Bind;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.net.SocketException;
import java.util.concurrent.atomic.LongAdder;

/**
 * wg-core's {@link Bind} on a Linux UDP socket, through java.lang.foreign: no event loop, no thread of its own. The
 * device's reader thread blocks in {@code recvmmsg}; senders call {@code sendmmsg} themselves. By concern:
 *
 * <ul>
 * <li>{@link UdpSocket}: the socket and its options (dual stack, buffers, GSO/GRO support, {@code SO_MARK}), and
 * closing it under calls in flight;
 * <li>{@link GsoSender}: one per sending thread, datagrams laid into {@code UDP_SEGMENT} trains, {@code sendmmsg};
 * <li>{@link GroReceiver}: {@code recvmmsg} with {@code UDP_GRO}, runs cut back into datagrams;
 * <li>{@link SockAddr}: endpoints to and from {@code sockaddr_in6}/{@code sockaddr_in}; {@link MsgHdr}: the
 * structs' layout.
 * </ul>
 *
 * <p>{@link #receive} is for one thread at a time (the device's reader); {@link #send} for any number at once.
 * {@link #close} wakes a blocked receive ({@code shutdown}) and closes the descriptor once no call uses it. GSO and
 * GRO can be switched off ({@link Offloads}).
 */
public final class UdpBind implements Bind {
    private final boolean gsoWanted;
    private final boolean groWanted;
    private final Object lifecycle = new Object();
    private volatile UdpSocket socket;
    private volatile int mark;
    private final LongAdder droppedOversized = new LongAdder();
    private final LongAdder socketErrors = new LongAdder();
    private final ThreadLocal<GsoSender> senders = ThreadLocal.withInitial(GsoSender::new);

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
        return GsoSender.BATCH;
    }

    /** Datagrams dropped on receive because they did not fit the caller's buffer. */
    public long droppedOversized() {
        return droppedOversized.sum();
    }

    @Override
    public java.util.Map<String, Long> drops() {
        return java.util.Map.of("udp_oversized", droppedOversized(), "udp_socket_error", socketErrors());
    }

    /** Send and receive errors the socket reported (a refused message, an ICMP error, a failed read). */
    public long socketErrors() {
        return socketErrors.sum();
    }

    /** Whether trains go out as one GSO send (false before open, when switched off, or after the kernel refused). */
    public boolean gso() {
        UdpSocket s = socket;
        return s != null && s.gso;
    }

    /** Whether the socket coalesces what it receives (UDP_GRO). */
    public boolean gro() {
        UdpSocket s = socket;
        return s != null && s.gro;
    }

    /** The bound port, or 0 when closed. */
    public int port() {
        UdpSocket s = socket;
        return s == null ? 0 : s.port;
    }

    @Override
    public int open(int port) throws IOException {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        synchronized (lifecycle) {
            if (socket != null) {
                throw new IOException("already open on UDP port " + socket.port);
            }
            UdpSocket s = UdpSocket.open(port, gsoWanted, groWanted);
            if (mark != 0) {
                s.setMark(mark);
            }
            socket = s;
            return s.port;
        }
    }

    @Override
    public void setMark(int value) throws IOException {
        synchronized (lifecycle) {
            UdpSocket s = socket;
            if (s != null) {
                s.setMark(value);
            }
            mark = value;
        }
    }

    @Override
    public void close() {
        synchronized (lifecycle) {
            UdpSocket s = socket;
            socket = null;
            if (s != null) {
                s.close();
            }
        }
    }

    @Override
    public int receive(Packet[] packets, int max) throws IOException {
        UdpSocket s = socket;
        if (s == null || !s.acquire()) {
            return -1;
        }
        try {
            return s.receiver.receive(packets, Math.min(max, packets.length), droppedOversized, socketErrors);
        } finally {
            s.release();
        }
    }

    @Override
    public void send(Packet[] packets, int count, Endpoint to) throws IOException {
        UdpSocket s = socket;
        if (s == null || !s.acquire()) {
            throw new SocketException("UDP bind is closed");
        }
        try {
            GsoSender sender = senders.get();
            int nameLen = SockAddr.write(sender.name(), to, s.v6);
            if (nameLen < 0) {
                throw new SocketException("cannot send to " + to + " from an IPv4-only socket");
            }
            int failed = sender.send(s, packets, count, nameLen, socketErrors);
            if (failed > 0) {
                throw new SocketException(failed + " of " + count + " datagrams to " + to + " refused by the kernel");
            }
        } finally {
            s.release();
        }
    }
}
