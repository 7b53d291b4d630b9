package io.wgcni.tun;

import io.netty.buffer.ByteBuf;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The hand-off from a {@link NettyBind}'s event loop (one producer) to the device's UDP reader (one consumer): a
 * ring of bytes plus a ring of entries (where each datagram ends, its length and sender).
 *
 * <p>The event loop copies each datagram out of Netty's buffer into the ring and releases the buffer at once, so
 * no pooled memory waits for the reader and the ring's memory is fixed. When either ring is full the datagram is
 * dropped and counted: the event loop never blocks. The reader copies from the ring into its {@link Packet}s.
 *
 * <p>Byte positions are counted from 0 without wrapping ({@code long}); a datagram that does not fit before the end
 * of the array starts at the next lap instead, so every datagram is contiguous. Publication: the producer writes
 * the bytes and the entry, then the volatile {@code head}; the consumer copies, then writes the volatile
 * {@code readPos} and {@code tail}. The consumer parks when the ring is empty; the producer unparks it at the end
 * of a read burst ({@link #signal}) and every {@link #SIGNAL_EVERY} datagrams.
 */
final class ReceiveRing {
    static final int SIGNAL_EVERY = 64;

    private final byte[] data;
    private final int dataMask;
    private final long[] ends;
    private final int[] lengths;
    private final Endpoint[] endpoints;
    private final int entryMask;
    private final AtomicLong dropped;

    // Producer (event loop) state.
    private long writePos;
    private long headLocal;
    private int unsignaled;
    private java.net.InetSocketAddress lastSender;
    private Endpoint lastEndpoint;

    private volatile long head;
    private volatile long tail;
    private volatile long readPos;
    private volatile Thread waiter;
    private volatile boolean closed;

    /** Capacities are rounded up to powers of two; {@code bytes} must hold the largest datagram (64 KiB). */
    ReceiveRing(int bytes, int entries, AtomicLong dropped) {
        int b = Integer.highestOneBit(Math.max(bytes, 1 << 16) - 1) << 1;
        int e = Integer.highestOneBit(Math.max(entries, 2) - 1) << 1;
        this.data = new byte[b];
        this.dataMask = b - 1;
        this.ends = new long[e];
        this.lengths = new int[e];
        this.endpoints = new Endpoint[e];
        this.entryMask = e - 1;
        this.dropped = dropped;
    }

    /** Event loop: copies {@code content}'s readable bytes in; false (counted) if the ring is full or closed. */
    boolean offer(ByteBuf content, java.net.InetSocketAddress sender) {
        int len = content.readableBytes();
        if (closed || headLocal - tail > entryMask || len > data.length) {
            dropped.incrementAndGet();
            return false;
        }
        long pos = writePos;
        int idx = (int) (pos & dataMask);
        if (idx + len > data.length) {
            pos += data.length - idx;
            idx = 0;
        }
        if (pos + len - readPos > data.length) {
            dropped.incrementAndGet();
            return false;
        }
        content.getBytes(content.readerIndex(), data, idx, len);
        int e = (int) (headLocal & entryMask);
        ends[e] = pos + len;
        lengths[e] = len;
        endpoints[e] = endpointOf(sender);
        writePos = pos + len;
        head = ++headLocal;
        if (++unsignaled >= SIGNAL_EVERY) {
            signal();
        }
        return true;
    }

    /** Event loop: wakes the reader if it waits. */
    void signal() {
        unsignaled = 0;
        Thread w = waiter;
        if (w != null) {
            LockSupport.unpark(w);
        }
    }

    /**
     * Reader: blocks until at least one datagram is queued, copies up to {@code max} into {@code packets} and
     * returns how many; -1 once closed (or when the reader is interrupted, keeping its interrupt status).
     */
    int take(Packet[] packets, int max) {
        long t = tail;
        long h = head;
        while (h == t) {
            if (closed) {
                return -1;
            }
            waiter = Thread.currentThread();
            h = head;
            if (h == t && !closed) {
                LockSupport.park(this);
            }
            waiter = null;
            if (Thread.currentThread().isInterrupted()) {
                return -1;
            }
            h = head;
        }
        if (closed) {
            return -1;
        }
        int available = (int) Math.min(Math.min(max, packets.length), h - t);
        int n = 0;
        for (int i = 0; i < available; i++) {
            int e = (int) ((t + i) & entryMask);
            int len = lengths[e];
            Packet p = packets[n];
            if (len > p.buf.length) {
                dropped.incrementAndGet(); // buffers are never grown for a datagram (Bind#receive)
                continue;
            }
            int idx = (int) ((ends[e] - len) & dataMask);
            System.arraycopy(data, idx, p.buf, 0, len);
            p.set(0, len);
            p.endpoint = endpoints[e];
            n++;
        }
        if (available > 0) {
            readPos = ends[(int) ((t + available - 1) & entryMask)];
            tail = t + available;
        }
        return n;
    }

    /** Any thread: makes {@link #take} return -1 now and from now on. */
    void close() {
        closed = true;
        Thread w = waiter;
        if (w != null) {
            LockSupport.unpark(w);
        }
    }

    /** The sender as the UAPI shows it; consecutive datagrams from one sender share one Endpoint. */
    private Endpoint endpointOf(java.net.InetSocketAddress sender) {
        if (sender == null) {
            return null;
        }
        if (!sender.equals(lastSender)) {
            lastEndpoint = NettyBind.endpointOf(sender);
            lastSender = sender;
        }
        return lastEndpoint;
    }
}
