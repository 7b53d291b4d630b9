package io.wgcni.wg.io;

import java.net.InetAddress;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A UDP network in memory for devices under test: binds register at an address and port, datagrams are
 * copied between them, and an optional {@link Conditioner} drops, duplicates or delays datagrams.
 */
public final class MemoryNetwork {

    /** Decides the fate of each datagram: deliver it through the link (once, twice, later) or not at all. */
    public interface Conditioner {
        void transmit(Datagram d, Link link);
    }

    /** Lets a conditioner deliver a datagram now (again, or one it held back). */
    public interface Link {
        void deliver(Datagram d);
    }

    public record Datagram(byte[] bytes, Endpoint from, Endpoint to) {}

    private final Map<Endpoint, MemoryBind> binds = new ConcurrentHashMap<>();
    private final AtomicInteger nextPort = new AtomicInteger(40000);
    private volatile Conditioner conditioner;

    public MemoryBind newBind(InetAddress address) {
        return new MemoryBind(address);
    }

    public void setConditioner(Conditioner conditioner) {
        this.conditioner = conditioner;
    }

    /** Injects a datagram from anywhere (an attacker, a fuzzer) to {@code to}. */
    public void inject(byte[] bytes, Endpoint from, Endpoint to) {
        route(new Datagram(bytes.clone(), from, to));
    }

    private void route(Datagram d) {
        Conditioner c = conditioner;
        if (c == null) {
            deliver(d);
        } else {
            c.transmit(d, this::deliver);
        }
    }

    private void deliver(Datagram d) {
        MemoryBind target = binds.get(d.to());
        if (target != null) {
            target.inFlight.incrementAndGet();
            if (!target.inbox.offer(d)) {
                target.inFlight.decrementAndGet();
            }
        }
    }

    /** One endpoint of the in-memory network. */
    public final class MemoryBind implements Bind {
        private static final Datagram CLOSED = new Datagram(new byte[0], null, null);

        private final LinkedBlockingQueue<Datagram> inbox = new LinkedBlockingQueue<>(65536);
        private final AtomicInteger dropped = new AtomicInteger();
        /** Datagrams delivered and not yet done with: counted until the reader comes back for more. */
        private final AtomicInteger inFlight = new AtomicInteger();
        private int lastBatch;
        private volatile InetAddress address;
        private volatile Endpoint local;

        private MemoryBind(InetAddress address) {
            this.address = address;
        }

        public Endpoint localEndpoint() {
            return local;
        }

        /** True when every datagram delivered here has been read and the reader has come back for more. */
        public boolean isIdle() {
            return local == null || inFlight.get() == 0;
        }

        /** Datagrams that did not fit the receiver's buffers. */
        public int droppedOversized() {
            return dropped.get();
        }

        /** Moves to another address, keeping the port: the peer on the other side sees it roam. */
        public synchronized void moveTo(InetAddress newAddress) {
            address = newAddress;
            if (local != null) {
                binds.remove(local);
                local = new Endpoint(newAddress, local.port());
                binds.put(local, this);
            }
        }

        @Override
        public synchronized int open(int port) throws java.io.IOException {
            if (local != null) {
                throw new java.io.IOException("already open");
            }
            int p = port != 0 ? port : nextPort.getAndIncrement();
            Endpoint e = new Endpoint(address, p);
            if (binds.putIfAbsent(e, this) != null) {
                throw new java.net.BindException("address in use: " + e);
            }
            inFlight.addAndGet(-inbox.size());
            inbox.clear();
            local = e;
            return p;
        }

        @Override
        public int receive(Packet[] packets, int max) throws java.io.IOException {
            inFlight.addAndGet(-lastBatch);
            lastBatch = 0;
            try {
                int n = 0;
                for (Datagram d = inbox.take(); d != null && n < max; d = n < max ? inbox.poll() : null) {
                    if (d == CLOSED) {
                        return n > 0 ? n : -1;
                    }
                    lastBatch++;
                    Packet p = packets[n];
                    if (d.bytes().length > p.buf.length) {
                        dropped.incrementAndGet(); // buffers are never grown for a datagram (Bind#receive)
                        continue;
                    }
                    n++;
                    System.arraycopy(d.bytes(), 0, p.buf, 0, d.bytes().length);
                    p.set(0, d.bytes().length);
                    p.endpoint = d.from();
                }
                return n;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -1;
            }
        }

        @Override
        public void send(Packet[] packets, int count, Endpoint to) throws java.io.IOException {
            Endpoint from = local;
            if (from == null) {
                throw new java.net.SocketException("bind is closed");
            }
            for (int i = 0; i < count; i++) {
                Packet p = packets[i];
                route(new Datagram(Arrays.copyOfRange(p.buf, p.offset, p.end()), from, to));
            }
        }

        @Override
        public void setMark(int mark) {
            // No firewall in memory.
        }

        @Override
        public synchronized void close() {
            if (local != null) {
                binds.remove(local);
                local = null;
                inbox.offer(CLOSED);
            }
        }
    }
}
