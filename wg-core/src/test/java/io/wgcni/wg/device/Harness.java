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

    final class Node {
        final int n;
        final Key privateKey = X25519.generatePrivateKey();
        final Key publicKey = X25519.publicKey(privateKey);
        final MemoryTun tun;
        final MemoryBind bind;
        final Device device;
        final InetAddress inner;

        Node(int n) {
            this.n = n;
            this.inner = ip("192.168.0." + n);
            this.tun = new MemoryTun("wg" + n, 1420);
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

    Node node() {
        Node node = new Node(nodes.size() + 1);
        nodes.add(node);
        return node;
    }

    /** Two nodes that know each other's endpoints. */
    static Harness pair() {
        Harness h = new Harness();
        Node a = h.node();
        Node b = h.node();
        a.connect(b, true);
        b.connect(a, true);
        return h;
    }

    Node get(int i) {
        return nodes.get(i);
    }

    long count(Node from, int type) {
        return wire.stream()
            .filter(d -> d.from().equals(from.endpoint()) && Protocol.messageType(d.bytes(), 0, d.bytes().length) == type)
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

    /** Lets in-flight work (threads of the devices) settle before the test looks at counters. */
    static void settle() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        for (Node n : nodes) {
            n.device.close();
        }
    }
}
