package io.wgcni.tun;

import static io.wgcni.tun.MsgHdr.CMSG_DATA;
import static io.wgcni.tun.MsgHdr.CMSG_LEN;
import static io.wgcni.tun.MsgHdr.CMSG_LEVEL;
import static io.wgcni.tun.MsgHdr.CMSG_SPACE;
import static io.wgcni.tun.MsgHdr.CMSG_TYPE;
import static io.wgcni.tun.MsgHdr.CONTROL;
import static io.wgcni.tun.MsgHdr.CONTROLLEN;
import static io.wgcni.tun.MsgHdr.INT;
import static io.wgcni.tun.MsgHdr.IOVEC;
import static io.wgcni.tun.MsgHdr.NAME_STRIDE;
import static io.wgcni.tun.MsgHdr.SIZE;
import static io.wgcni.tun.MsgHdr.SIZE_T;

import io.wgcni.wg.io.GsoTrains;
import io.wgcni.wg.io.Packet;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The send side of {@link UdpBind}, one per sending thread: its native memory (message headers, iovecs, control
 * messages, the datagrams' bytes, reused), datagrams laid into GSO trains ({@code UDP_SEGMENT}: a run of one size,
 * the last may be shorter, as {@link GsoTrains} says, which the kernel
 * cuts into datagrams), and {@code sendmmsg} with several trains per call. A train refused with EIO (no checksum
 * offload on the way out) turns GSO off on the socket for good, logged once; one refused with EINVAL (a segment
 * over the path MTU) goes again as plain datagrams.
 */
final class GsoSender {
    private static final Logger log = LoggerFactory.getLogger(UdpBind.class);
    /** Messages per {@code sendmmsg}. */
    static final int BATCH = 128;

    private final Arena arena = Arena.ofAuto();
    private final MemorySegment msgs = arena.allocate((long) BATCH * SIZE, 8);
    private final MemorySegment iovs = arena.allocate((long) BATCH * IOVEC, 8);
    private final MemorySegment controls = arena.allocate((long) BATCH * CMSG_SPACE, 8);
    private final MemorySegment name = arena.allocate(NAME_STRIDE, 8);
    private final int[] segments = new int[BATCH];
    private final int[] segmentSize = new int[BATCH];
    private final long[] dataOffset = new long[BATCH];
    private final long[] dataBytes = new long[BATCH];
    private MemorySegment data = arena.allocate(256 << 10, 16);
    /** Datagrams taken by the last {@link #fill}. */
    private int datagrams;

    /**
     * Sends {@code packets[0, count)} to {@code nameLen} bytes of address already in {@link #name()} over
     * {@code socket}; returns how many datagrams the kernel refused (each counted in {@code errors}): UDP may drop,
     * so the rest still go.
     */
    int send(UdpSocket socket, Packet[] packets, int count, int nameLen, LongAdder errors) {
        int failed = 0;
        int i = 0;
        while (i < count) {
            int messages = fill(packets, i, count, nameLen, socket.gso);
            int sent = 0;
            while (sent < messages) {
                int r = Syscalls.sendmmsg(socket.fd, msgs.asSlice((long) sent * SIZE), messages - sent, 0);
                if (r > 0) {
                    sent += r;
                    continue;
                }
                if (r == -LibC.EINTR) {
                    continue;
                }
                int n = segments[sent];
                if (n > 1 && (r == -LibC.EIO || r == -LibC.EINVAL)) {
                    if (r == -LibC.EIO && socket.gso) {
                        socket.gso = false;
                        log.info("UDP GSO refused by the kernel (EIO: no checksum offload on the way out); sending"
                                + " datagrams one by one from now on");
                    }
                    sendSingly(socket, sent, nameLen, errors);
                    sent++;
                    continue;
                }
                errors.increment();
                failed += n;
                sent++;
            }
            i += datagrams;
        }
        return failed;
    }

    /** Where {@link #send}'s destination address is written ({@link SockAddr#write}). */
    MemorySegment name() {
        return name;
    }

    /** Sends the datagrams of train {@code m} as separate messages. */
    private void sendSingly(UdpSocket socket, int m, int nameLen, LongAdder errors) {
        int size = segmentSize[m];
        long total = dataBytes[m];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(SIZE, 8);
            MemorySegment iov = a.allocate(IOVEC, 8);
            for (long off = 0; off < total; off += size) {
                MsgHdr.point(one, name, nameLen, iov, data.asSlice(dataOffset[m] + off), Math.min(size, total - off));
                int r;
                do {
                    r = Syscalls.sendmmsg(socket.fd, one, 1, 0);
                } while (r == -LibC.EINTR);
                if (r < 0) {
                    errors.increment();
                }
            }
        }
    }

    /**
     * Lays datagrams {@code ps[from..)} into messages, a GSO train per message where {@code gso}, as many as fit in
     * one call; returns the number of messages ({@link #datagrams} tells how many datagrams).
     */
    private int fill(Packet[] ps, int from, int count, int nameLen, boolean gso) {
        long used = 0;
        int m = 0;
        int i = from;
        while (i < count && m < BATCH) {
            int size = ps[i].length;
            int n = gso ? GsoTrains.length(ps, i, count) : 1;
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
            MemorySegment msg = msgs.asSlice((long) m * SIZE, SIZE);
            MsgHdr.point(msg, name, nameLen, iovs.asSlice((long) m * IOVEC, IOVEC), start, bytes);
            if (n > 1) {
                MemorySegment c = controls.asSlice((long) m * CMSG_SPACE, CMSG_SPACE);
                c.set(SIZE_T, CMSG_LEN, CMSG_DATA + 2);
                c.set(INT, CMSG_LEVEL, LibC.SOL_UDP);
                c.set(INT, CMSG_TYPE, LibC.UDP_SEGMENT);
                c.set(ValueLayout.JAVA_SHORT, CMSG_DATA, (short) size);
                msg.set(ValueLayout.ADDRESS, CONTROL, c);
                msg.set(SIZE_T, CONTROLLEN, CMSG_SPACE);
            } else {
                msg.set(ValueLayout.ADDRESS, CONTROL, MemorySegment.NULL);
                msg.set(SIZE_T, CONTROLLEN, 0);
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
