package io.wgcni.tun;

import static io.wgcni.tun.MsgHdr.CMSG_DATA;
import static io.wgcni.tun.MsgHdr.CMSG_LEVEL;
import static io.wgcni.tun.MsgHdr.CMSG_SPACE;
import static io.wgcni.tun.MsgHdr.CMSG_TYPE;
import static io.wgcni.tun.MsgHdr.CONTROL;
import static io.wgcni.tun.MsgHdr.CONTROLLEN;
import static io.wgcni.tun.MsgHdr.INT;
import static io.wgcni.tun.MsgHdr.IOVEC;
import static io.wgcni.tun.MsgHdr.LEN;
import static io.wgcni.tun.MsgHdr.NAMELEN;
import static io.wgcni.tun.MsgHdr.NAME_STRIDE;
import static io.wgcni.tun.MsgHdr.SIZE;
import static io.wgcni.tun.MsgHdr.SIZE_T;

import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.LongAdder;

/**
 * The receive side of {@link UdpBind}: {@code recvmmsg} into {@value #MESSAGES} native buffers of 64 KiB, each of
 * which may hold a GRO run ({@code UDP_GRO}: datagrams of one flow, their size in a control message), cut apart
 * into the caller's packets. A datagram longer than its packet's buffer is dropped and counted. Keeps its place in
 * what the last call brought, so it waits for more only when nothing is left. For one thread at a time.
 */
final class GroReceiver {
    /** Messages per {@code recvmmsg}: each may carry a GRO run of up to 64 KiB. */
    static final int MESSAGES = 8;
    static final int MAX_DATAGRAM = 65535;

    private final UdpSocket socket;
    private final MemorySegment msgs;
    private final MemorySegment controls;
    private final MemorySegment data;
    private final MemorySegment lastName;
    private Endpoint lastEndpoint;
    private int received;
    private int message;
    private int position;

    GroReceiver(UdpSocket socket, Arena arena) {
        this.socket = socket;
        msgs = arena.allocate((long) MESSAGES * SIZE, 8);
        MemorySegment iovs = arena.allocate((long) MESSAGES * IOVEC, 8);
        MemorySegment names = arena.allocate((long) MESSAGES * NAME_STRIDE, 8);
        controls = arena.allocate((long) MESSAGES * CMSG_SPACE, 8);
        data = arena.allocate((long) MESSAGES * (MAX_DATAGRAM + 1), 16);
        lastName = arena.allocate(NAME_STRIDE, 8);
        for (int m = 0; m < MESSAGES; m++) {
            MemorySegment msg = msgs.asSlice((long) m * SIZE, SIZE);
            MsgHdr.point(msg, names.asSlice((long) m * NAME_STRIDE, NAME_STRIDE), SockAddr.SIZE,
                    iovs.asSlice((long) m * IOVEC, IOVEC), data.asSlice((long) m * (MAX_DATAGRAM + 1)),
                    MAX_DATAGRAM + 1);
            msg.set(ValueLayout.ADDRESS, CONTROL, controls.asSlice((long) m * CMSG_SPACE, CMSG_SPACE));
        }
    }

    /** Cuts what the last recvmmsg brought into packets; blocks for more only when nothing is left. -1: closed. */
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
            MemorySegment msg = msgs.asSlice((long) message * SIZE, SIZE);
            int length = msg.get(INT, LEN);
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
            if (socket.isClosed()) {
                return false;
            }
            for (int m = 0; m < MESSAGES; m++) {
                MemorySegment msg = msgs.asSlice((long) m * SIZE, SIZE);
                msg.set(INT, NAMELEN, SockAddr.SIZE);
                msg.set(SIZE_T, CONTROLLEN, socket.gro ? CMSG_SPACE : 0);
            }
            int r = Syscalls.recvmmsg(socket.fd, msgs, MESSAGES, LibC.MSG_WAITFORONE);
            if (socket.isClosed()) {
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
        if (!socket.gro || msg.get(SIZE_T, CONTROLLEN) < CMSG_DATA + 4) {
            return length;
        }
        MemorySegment c = msg.get(ValueLayout.ADDRESS, CONTROL).reinterpret(CMSG_SPACE);
        if (c.get(INT, CMSG_LEVEL) == LibC.SOL_UDP && c.get(INT, CMSG_TYPE) == LibC.UDP_GRO) {
            int size = c.get(INT, CMSG_DATA);
            return size > 0 ? size : length;
        }
        return length;
    }

    /** The sender; consecutive datagrams from one sender share one Endpoint. */
    private Endpoint endpoint(MemorySegment msg) {
        MemorySegment name = msg.get(ValueLayout.ADDRESS, MsgHdr.NAME).reinterpret(NAME_STRIDE);
        if (lastEndpoint == null || !SockAddr.same(name, lastName)) {
            lastEndpoint = SockAddr.read(name);
            MemorySegment.copy(name, 0, lastName, 0, NAME_STRIDE);
        }
        return lastEndpoint;
    }
}
