package io.wgcni.wg.io;

import java.util.Arrays;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A TUN device in memory: {@link #inject} plays the kernel handing the device an IP packet to send, and
 * {@link #poll} takes what the device delivered. For tests and the in-memory benchmark.
 */
public final class MemoryTun implements Tun {
    private static final byte[] CLOSED = new byte[0];

    private final String name;
    private final int mtu;
    private final LinkedBlockingQueue<byte[]> toDevice = new LinkedBlockingQueue<>();
    private final LinkedBlockingQueue<byte[]> fromDevice;
    private volatile boolean closed;

    public MemoryTun(String name, int mtu) {
        this(name, mtu, Integer.MAX_VALUE);
    }

    /** {@code capacity} bounds what the device may deliver before a reader takes it (excess is dropped). */
    public MemoryTun(String name, int mtu, int capacity) {
        this.name = name;
        this.mtu = mtu;
        this.fromDevice = new LinkedBlockingQueue<>(capacity);
    }

    /** Queues an IP packet for the device to send through the tunnel. */
    public void inject(byte[] ipPacket) {
        if (!closed) {
            toDevice.add(ipPacket.clone());
        }
    }

    /** The next packet the device delivered, or null after {@code timeoutMillis}. */
    public byte[] poll(long timeoutMillis) throws InterruptedException {
        return fromDevice.poll(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    public byte[] poll() {
        return fromDevice.poll();
    }

    public int delivered() {
        return fromDevice.size();
    }

    @Override
    public int read(Packet[] packets, int max) {
        try {
            byte[] first = toDevice.take();
            int n = 0;
            for (byte[] next = first; next != null && n < max; next = n < max ? toDevice.poll() : null) {
                if (next == CLOSED || closed) {
                    toDevice.add(CLOSED);
                    return n > 0 ? n : -1;
                }
                Packet p = packets[n++];
                p.ensureCapacity(Packet.HEADROOM + next.length + Packet.TAILROOM);
                System.arraycopy(next, 0, p.buf, Packet.HEADROOM, next.length);
                p.set(Packet.HEADROOM, next.length);
            }
            return n;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    @Override
    public void write(Packet[] packets, int count) {
        for (int i = 0; i < count; i++) {
            Packet p = packets[i];
            fromDevice.offer(Arrays.copyOfRange(p.buf, p.offset, p.end()));
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
    public void close() {
        closed = true;
        toDevice.add(CLOSED);
    }
}
