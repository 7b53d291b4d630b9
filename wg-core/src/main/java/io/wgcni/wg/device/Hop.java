package io.wgcni.wg.device;

import io.wgcni.wg.io.Bind;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import java.io.IOException;
import java.net.BindException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * In-process hops: WireGuard between devices of one process, a <em>hub</em> (node-manager's wg0) and its
 * <em>spokes</em> (one device per container), with no socket between them. A spoke's datagram is handed to the
 * hub's receive path by reference, on the sending thread, and the hub's to the spoke's: no copy, no syscall, no
 * queue, no thread. Everything else is WireGuard as on a wire: each spoke has its own key and a real handshake with
 * the hub, sessions, rekeys, counters, the replay window, and the hub's allowed-IPs check of every packet's source
 * (a container can only send from its own addresses); {@code wg show} lists each spoke as a peer with its
 * handshake and byte counts.
 *
 * <p>What differs from a wire:
 * <ul>
 * <li>Data crosses as superpackets: a container's 64 KiB TCP superpacket reaches the hub whole and is cut once, at
 * the hub's wire ({@link Bind#inProcess}).
 * <li>Data messages are not sealed unless the hub was made with {@code sealed}: both ends are one process, which
 * holds both ends' keys, so whoever can read the hop can read the keys; sealing would cost a cipher pass each way and
 * protect nothing. Unsealed, a data message is the 16-byte header (type, receiver index, counter) and the plain
 * packet: no padding, no tag. Whether a message may be unsealed is decided by the call it arrives through ({@link
 * Inbound#fromHop}), never by anything in the message, so nothing from a socket is ever taken unsealed.
 * <li>Handshake messages from a spoke skip the hub's under-load cookie and rate limit, which exist for sources
 * nobody can hold to account; a spoke's own handshakes are handled on the delivering thread.
 * </ul>
 *
 * <p>Endpoints: the hub sees spoke {@code n} at {@code 0.0.0.0:n}, and spokes see the hub at {@link #HUB}. No
 * datagram can come from 0.0.0.0 (a martian source the kernel drops), so these endpoints never collide with a real
 * peer's, and the hub never sends to 0.0.0.0 on its socket: what has no spoke there is dropped and counted.
 */
public final class Hop {
    private static final InetAddress NOWHERE;

    static {
        try {
            NOWHERE = Inet4Address.getByAddress(new byte[4]);
        } catch (UnknownHostException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** What spokes see as the hub's endpoint. */
    public static final Endpoint HUB = new Endpoint(NOWHERE, 0);

    private Hop() {
    }

    /** A bind that knows the device it belongs to: the device introduces itself when it is made. */
    sealed interface End permits Hub, Spoke {
        void attach(Device device);
    }

    static boolean isHopEndpoint(Endpoint e) {
        return e != null && e.address().isAnyLocalAddress();
    }

    /**
     * The hub's bind: datagrams for a spoke go to the spoke's device, everything else to and from {@code network}
     * (the UDP socket to other nodes and clients).
     */
    public static final class Hub implements Bind, End {
        private final Bind network;
        private final boolean sealed;
        private final ConcurrentHashMap<Endpoint, Spoke> spokes = new ConcurrentHashMap<>();
        private final LongAdder noSpoke = new LongAdder();
        private int nextId = 1;
        private volatile Device device;

        /** Over {@code network}; {@code sealed} keeps data between hub and spokes sealed. */
        public Hub(Bind network, boolean sealed) {
            this.network = network;
            this.sealed = sealed;
        }

        @Override
        public void attach(Device d) {
            device = d;
        }

        /**
         * A new spoke's bind: make the spoke's device with it, and give that device's peer the endpoint {@link #HUB}.
         */
        public synchronized Spoke newSpoke() {
            if (spokes.size() >= 65535) {
                throw new IllegalStateException("65535 spokes on one hub");
            }
            while (true) {
                int id = nextId;
                nextId = nextId == 65535 ? 1 : nextId + 1;
                Spoke s = new Spoke(this, new Endpoint(NOWHERE, id));
                if (spokes.putIfAbsent(s.self, s) == null) {
                    return s;
                }
            }
        }

        public boolean sealed() {
            return sealed;
        }

        public int spokes() {
            return spokes.size();
        }

        @Override
        public int open(int port) throws IOException {
            return network.open(port);
        }

        @Override
        public int receive(Packet[] packets, int max) throws IOException {
            return network.receive(packets, max);
        }

        @Override
        public void send(Packet[] packets, int count, Endpoint to) throws IOException {
            if (!isHopEndpoint(to)) {
                network.send(packets, count, to);
                return;
            }
            Spoke s = spokes.get(to);
            Device d = s == null ? null : s.device;
            if (d == null || !s.open) {
                noSpoke.add(count);
                return;
            }
            d.inbound.fromHop(packets, count, HUB, sealed);
        }

        @Override
        public void setMark(int mark) throws IOException {
            network.setMark(mark);
        }

        @Override
        public int batchSize() {
            return network.batchSize();
        }

        @Override
        public boolean inProcess(Endpoint to) {
            return isHopEndpoint(to);
        }

        @Override
        public boolean sealsInProcess() {
            return sealed;
        }

        @Override
        public Map<String, Long> drops() {
            Map<String, Long> all = new LinkedHashMap<>(network.drops());
            all.put("hop_no_spoke", noSpoke.sum());
            return all;
        }

        /** Closes the socket; the spokes stay (a rebind to another port must not cut the containers off). */
        @Override
        public void close() {
            network.close();
        }
    }

    /** A spoke's bind: everything goes to the hub's device, and comes from it. */
    public static final class Spoke implements Bind, End {
        private final Hub hub;
        final Endpoint self;
        private final LongAdder hubDown = new LongAdder();
        private volatile Device device;
        private volatile boolean open;

        private Spoke(Hub hub, Endpoint self) {
            this.hub = hub;
            this.self = self;
        }

        @Override
        public void attach(Device d) {
            device = d;
        }

        /** The endpoint the hub sees this spoke at. */
        public Endpoint endpoint() {
            return self;
        }

        /** Opens the hop; {@code port} is ignored: the spoke's number is its port. */
        @Override
        public int open(int port) throws IOException {
            Spoke other = hub.spokes.putIfAbsent(self, this);
            if (other != null && other != this) {
                throw new BindException("hop " + self + " was taken while this spoke was closed");
            }
            open = true;
            return self.port();
        }

        @Override
        public int receive(Packet[] packets, int max) {
            throw new UnsupportedOperationException("a spoke pushes what it receives to its device");
        }

        @Override
        public void send(Packet[] packets, int count, Endpoint to) {
            Device d = hub.device;
            if (!open || d == null || d.isClosed()) {
                hubDown.add(count);
                return;
            }
            d.inbound.fromHop(packets, count, self, hub.sealed);
        }

        @Override
        public void setMark(int mark) {
            // nothing leaves the process
        }

        @Override
        public boolean pushes() {
            return true;
        }

        @Override
        public boolean inProcess(Endpoint to) {
            return true;
        }

        @Override
        public boolean sealsInProcess() {
            return hub.sealed;
        }

        @Override
        public Map<String, Long> drops() {
            return Map.of("hop_hub_down", hubDown.sum());
        }

        /** Closes the hop: the hub's datagrams for this spoke are dropped from now on. */
        @Override
        public void close() {
            open = false;
            hub.spokes.remove(self, this);
        }
    }
}
