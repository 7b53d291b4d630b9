package io.wgcni.wg.io;

import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TUN device in memory: {@link #inject} plays the kernel handing the device an IP packet to send, and
 * {@link #poll} takes what the device delivered. For tests and the in-memory benchmark. With offloads on, it also
 * hands over and takes superpackets, as a Linux TUN with {@code IFF_VNET_HDR} does.
 */
public final class MemoryTun implements Tun {
    private static final Packet CLOSED = new Packet(new byte[0]);

    private final String name;
    private final int mtu;
    private final boolean offload;
    private final LinkedBlockingQueue<Packet> toDevice = new LinkedBlockingQueue<>();
    private final LinkedBlockingQueue<Packet> fromDevice;
    /** Injected packets not yet done with: counted from inject until the reader comes back for more. */
    private final AtomicLong inFlight = new AtomicLong();
    private int lastBatch;
    private volatile boolean closed;

    public MemoryTun(String name, int mtu) {
        this(name, mtu, Integer.MAX_VALUE);
    }

    /** {@code capacity} bounds what the device may deliver before a reader takes it (excess is dropped). */
    public MemoryTun(String name, int mtu, int capacity) {
        this(name, mtu, capacity, false);
    }

    /** {@code offload}: TCP and UDP superpackets both ways ({@link #tcpOffload}, {@link #udpOffload}). */
    public MemoryTun(String name, int mtu, int capacity, boolean offload) {
        this.name = name;
        this.mtu = mtu;
        this.offload = offload;
        this.fromDevice = new LinkedBlockingQueue<>(capacity);
    }

    /** Queues an IP packet for the device to send through the tunnel. */
    public void inject(byte[] ipPacket) {
        inject(new Packet(ipPacket).set(0, ipPacket.length)); // copied there
    }

    /** Queues a copy of {@code p} (its bytes and offload metadata) for the device to send. */
    public void inject(Packet p) {
        if (!closed) {
            Packet copy = new Packet(new byte[p.offset + p.length + Packet.TAILROOM]);
            copy.copyFrom(p);
            inFlight.incrementAndGet();
            toDevice.add(copy);
        }
    }

    /** The next packet the device delivered, or null after {@code timeoutMillis}. */
    public byte[] poll(long timeoutMillis) throws InterruptedException {
        return bytes(fromDevice.poll(timeoutMillis, TimeUnit.MILLISECONDS));
    }

    public byte[] poll() {
        return bytes(fromDevice.poll());
    }

    /** The next packet the device delivered with its offload metadata (a copy at offset 0), or null. */
    public Packet pollPacket(long timeoutMillis) throws InterruptedException {
        return fromDevice.poll(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    private static byte[] bytes(Packet p) {
        return p == null ? null : Arrays.copyOfRange(p.buf, p.offset, p.end());
    }

    public int delivered() {
        return fromDevice.size();
    }

    /** True when every injected packet has been read and the reader has come back for more. */
    public boolean isIdle() {
        return inFlight.get() == 0;
    }

    @Override
    public int read(Packet[] packets, int max) {
        try {
            return take(packets, max, true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** What is queued now (up to {@code max}), 0 when nothing is, -1 once closed: never waits. */
    @Override
    public int readReady(Packet[] packets, int max) {
        try {
            return take(packets, max, false);
        } catch (InterruptedException e) {
            throw new AssertionError("a poll does not wait", e);
        }
    }

    /** One body for both reads: the first packet is waited for only if {@code block}. */
    private int take(Packet[] packets, int max, boolean block) throws InterruptedException {
        inFlight.addAndGet(-lastBatch);
        lastBatch = 0;
        if (max <= 0) {
            return closed ? -1 : 0;
        }
        Packet first = block ? toDevice.take() : toDevice.poll();
        if (first == null) {
            return closed ? -1 : 0;
        }
        int n = 0;
        for (Packet next = first; next != null && n < max; next = n < max ? toDevice.poll() : null) {
            if (next == CLOSED || closed) {
                toDevice.add(CLOSED);
                break;
            }
            Packet p = packets[n++];
            p.ensureCapacity(Packet.HEADROOM + next.length + Packet.TAILROOM);
            System.arraycopy(next.buf, next.offset, p.buf, Packet.HEADROOM, next.length);
            p.set(Packet.HEADROOM, next.length);
            p.gso = next.gso;
            p.gsoSize = next.gsoSize;
            p.partialChecksum = next.partialChecksum;
            p.checksumStart = next.checksumStart;
            p.checksumOffset = next.checksumOffset;
        }
        lastBatch = n;
        return n > 0 ? n : -1;
    }

    @Override
    public void write(Packet[] packets, int count) {
        for (int i = 0; i < count; i++) {
            Packet p = packets[i];
            Packet copy = new Packet(Arrays.copyOfRange(p.buf, p.offset, p.end()));
            copy.set(0, p.length);
            copy.gso = p.gso;
            copy.gsoSize = p.gsoSize;
            copy.partialChecksum = p.partialChecksum;
            copy.checksumStart = p.checksumStart;
            copy.checksumOffset = p.checksumOffset;
            fromDevice.offer(copy);
        }
    }

    @Override
    public int mtu() {
        return mtu;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean tcpOffload() {
        return offload;
    }

    @Override
    public boolean udpOffload() {
        return offload;
    }

    @Override
    public void close() {
        closed = true;
        toDevice.add(CLOSED);
    }
}
