package io.wgcni.wg.device;

import static io.wgcni.wg.device.IpPackets.ip;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryNetwork.MemoryBind;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.noise.Protocol;
import io.wgcni.wg.time.Clock;
import io.wgcni.wg.time.ManualClock;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

/**
 * Devices wired together in memory: each has a TUN, a bind on the shared network, a key pair and an inner
 * address 192.168.0.N. Every datagram on the wire is recorded so tests can count message types.
 */
final class Harness implements AutoCloseable {
    final MemoryNetwork network = new MemoryNetwork();
    final Clock clock;
    final List<Node> nodes = new ArrayList<>();
    final List<MemoryNetwork.Datagram> wire = new CopyOnWriteArrayList<>();
    /** Off for floods: the recording list copies itself on every write. */
    volatile boolean recordWire = true;
    volatile MemoryNetwork.Conditioner conditioner;
    private final java.util.concurrent.atomic.AtomicInteger wireCount = new java.util.concurrent.atomic.AtomicInteger();

    final class Node {
        final int n;
        final Key privateKey = X25519.generatePrivateKey();
        final Key publicKey = X25519.publicKey(privateKey);
        final MemoryTun tun;
        final MemoryBind bind;
        final Device device;
        final InetAddress inner;

        Node(int n, boolean offload) {
            this.n = n;
            this.inner = ip("192.168.0." + n);
            this.tun = new MemoryTun("wg" + n, 1420, Integer.MAX_VALUE, offload);
            this.bind = network.newBind(ip("10.0.0." + n));
            this.device = new Device("wg" + n, tun, bind, clock, 2);
            device.setPrivateKey(privateKey);
            try {
                device.setListenPort(51820);
                device.up();
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }

        Endpoint endpoint() {
            return bind.localEndpoint();
        }

        Harness harness() {
            return Harness.this;
        }

        /** Adds {@code other} as a peer routing its inner /32, with its endpoint when {@code withEndpoint}. */
        Peer connect(Node other, boolean withEndpoint) {
            Peer p = device.addPeer(other.publicKey);
            device.addAllowedIp(p, new Prefix(other.inner, 32));
            if (withEndpoint) {
                p.setEndpoint(other.endpoint());
            }
            return p;
        }

        Peer peer(Node other) {
            return device.peer(other.publicKey);
        }

        void sendTo(Node other, int seq) {
            tun.inject(IpPackets.packet(inner, other.inner, seq, 64));
        }
    }

    Harness(Clock clock) {
        this.clock = clock;
        network.setConditioner((d, link) -> {
            wireCount.incrementAndGet();
            if (recordWire) {
                wire.add(d);
            }
            MemoryNetwork.Conditioner c = conditioner;
            if (c == null) {
                link.deliver(d);
            } else {
                c.transmit(d, link);
            }
        });
    }

    Harness() {
        this(new ManualClock());
    }

    ManualClock manualClock() {
        return (ManualClock) clock;
    }

    /**
     * Moves the manual clock on once the devices have settled, and lets what the timers set off settle too: a
     * device thread that arms a timer while the clock jumps would arm it relative to some moment in the jump.
     */
    void advance(long nanos) {
        settle();
        manualClock().advance(nanos);
        settle();
    }

    Node node() {
        return node(false);
    }

    /** A node whose TUN hands over and takes superpackets ({@link MemoryTun#tcpOffload}) when {@code offload}. */
    Node node(boolean offload) {
        Node node = new Node(nodes.size() + 1, offload);
        nodes.add(node);
        return node;
    }

    /** Two nodes that know each other's endpoints. */
    static Harness pair() {
        return pair(false, false);
    }

    /** Two nodes that know each other's endpoints, each with TUN offloads or not. */
    static Harness pair(boolean offloadA, boolean offloadB) {
        Harness h = new Harness();
        Node a = h.node(offloadA);
        Node b = h.node(offloadB);
        a.connect(b, true);
        b.connect(a, true);
        return h;
    }

    Node get(int i) {
        return nodes.get(i);
    }

    long count(Node from, int type) {
        return wire.stream()
            .filter(d -> d.from().equals(from.endpoint())
                && Protocol.messageType(d.bytes(), 0, d.bytes().length) == type)
            .count();
    }

    long keepalives(Node from) {
        return wire.stream()
            .filter(d -> d.from().equals(from.endpoint()) && d.bytes().length == Protocol.Data.MIN_SIZE
                && d.bytes()[0] == Protocol.TYPE_DATA)
            .count();
    }

    /** Polls {@code condition} for up to five seconds of real time. */
    static boolean eventually(BooleanSupplier condition) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return condition.getAsBoolean();
    }

    /**
     * Waits until nothing moves in any device: every packet injected into a TUN and every datagram delivered to a
     * bind has been taken all the way through (the reader came back for more), and no handshake message waits or is
     * being handled. Anything in motion is counted somewhere until whatever it caused is counted elsewhere, so one
     * pass that finds all of it zero, with the wire unchanged during the pass, means the devices have settled. Timers
     * of a {@link ManualClock} run on the test thread, inside {@code advance}, so they cannot be in motion here.
     */
    void settle() {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            int before = wireCount.get();
            boolean idle = true;
            for (Node n : nodes) {
                idle &= n.tun.isIdle() && n.bind.isIdle() && n.device.handshakesPending() == 0;
            }
            if (idle && wireCount.get() == before) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("devices did not settle within 10 s");
            }
            Thread.onSpinWait();
        }
    }

    @Override
    public void close() {
        for (Node n : nodes) {
            n.device.close();
        }
    }
}
