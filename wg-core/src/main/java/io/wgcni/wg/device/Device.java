package io.wgcni.wg.device;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.io.Bind;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.io.Tun;
import io.wgcni.wg.noise.CookieChecker;
import io.wgcni.wg.noise.IndexTable;
import io.wgcni.wg.noise.Protocol;
import io.wgcni.wg.noise.StaticIdentity;
import io.wgcni.wg.time.Clock;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A WireGuard interface: the static identity, the peers, the allowed-IPs table, and the data plane between a
 * {@link Tun} and a {@link Bind}. This class holds configuration and lifecycle; the packets' way is in
 * {@link Outbound} (TUN to UDP), {@link Inbound} (UDP to TUN) and {@link HandshakeReceiver}.
 *
 * <p>Threads: one reads the TUN and takes each batch all the way to the UDP socket (route, cut superpackets, seal,
 * send), one reads the UDP socket and takes each batch all the way to the TUN (open, check, coalesce, write): run to
 * completion, no hand-off between threads on the way, which on a small machine costs more than the cipher
 * (benchmarks/RESULTS.md). Handshake messages go to their own workers, whose queue's length tells whether the device
 * is under load. Timers run on the clock's thread. A device {@link #withoutThreads} (a container's, behind an
 * in-process {@link Hop}) runs on the threads of others: a poller's for its TUN, its hub's for what it receives.
 */
public final class Device implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Device.class);
    public static final int MAX_PEERS = 1 << 16;
    /** The inner packet a data message may carry at least, whatever the MTU (a peer's MTU may be a little higher). */
    static final int MIN_INNER_LIMIT = 1500;

    final Clock clock;
    final Tun tun;
    final Bind bind;
    final String name;
    final AllowedIps<Peer> allowedIps = new AllowedIps<>();
    final IndexTable<IndexEntry> indexTable = new IndexTable<>();
    final CookieChecker cookieChecker = new CookieChecker();
    final RateLimiter rateLimiter;
    final Stats stats = new Stats();
    final Outbound outbound = new Outbound(this);
    final Inbound inbound = new Inbound(this);
    final HandshakeReceiver handshakes = new HandshakeReceiver(this);
    private final ConcurrentHashMap<Key, Peer> peers = new ConcurrentHashMap<>();
    private final List<Thread> threads = new ArrayList<>();
    private final Object config = new Object();
    private volatile StaticIdentity identity;
    private int listenPort;
    private int fwmark;
    /** Packets from one peer to another go between them here rather than through the kernel ({@link Inbound}). */
    volatile boolean forwarding;
    private boolean up;
    private Thread bindReader;
    private volatile boolean closed;

    public Device(String name, Tun tun, Bind bind, Clock clock) {
        this(name, tun, bind, clock, Runtime.getRuntime().availableProcessors());
    }

    /** With {@code handshakeWorkers} threads for handshake messages. */
    public Device(String name, Tun tun, Bind bind, Clock clock, int handshakeWorkers) {
        this(name, tun, bind, clock, atLeastOne(handshakeWorkers), true);
    }

    private static int atLeastOne(int handshakeWorkers) {
        if (handshakeWorkers < 1) {
            throw new IllegalArgumentException("a device with threads of its own needs a handshake worker");
        }
        return handshakeWorkers;
    }

    /**
     * A device with no threads of its own, one of many that share a process's: its TUN is read by whoever calls
     * {@link #drainTun} (a poller over many TUNs), its bind pushes what it receives ({@link Bind#pushes}), and
     * handshake messages are handled on the thread that delivers them. For a spoke of an in-process {@link Hop},
     * whose every message comes from this process: nobody outside can flood it with handshakes.
     */
    public static Device withoutThreads(String name, Tun tun, Bind bind, Clock clock) {
        if (!bind.pushes()) {
            throw new IllegalArgumentException("a device without threads needs a bind that pushes (a Hop spoke)");
        }
        return new Device(name, tun, bind, clock, 0, false);
    }

    private Device(String name, Tun tun, Bind bind, Clock clock, int handshakeWorkers, boolean readsTun) {
        this.name = name;
        this.tun = tun;
        this.bind = bind;
        this.clock = clock;
        this.rateLimiter = new RateLimiter(clock);
        if (bind instanceof Hop.End end) {
            end.attach(this);
        }
        handshakes.inline = handshakeWorkers == 0;
        for (int i = 0; i < handshakeWorkers; i++) {
            startThread("handshake-" + i, handshakes::work);
        }
        if (readsTun) {
            startThread("tun-reader", this::tunReader);
        }
    }

    private Thread startThread(String role, Runnable body) {
        Thread t = Thread.ofPlatform().daemon().name("wg-" + name + "-" + role).start(body);
        synchronized (threads) {
            threads.add(t);
        }
        return t;
    }

    public String name() {
        return name;
    }

    public Stats stats() {
        return stats;
    }

    /** The hub side of in-process hops when this device's bind is one ({@link Hop.Hub}), else null. */
    public Hop.Hub hop() {
        return bind instanceof Hop.Hub h ? h : null;
    }

    /** The device's drop counters, then its TUN's and its bind's ({@link Tun#drops}, {@link Bind#drops}). */
    public Map<String, Long> counters() {
        Map<String, Long> all = new LinkedHashMap<>(stats.snapshot());
        all.putAll(tun.drops());
        all.putAll(bind.drops());
        return all;
    }

    // ---- configuration ----

    public StaticIdentity identity() {
        return identity;
    }

    /**
     * Sets the private key (null or all zeros removes it). A peer with the new public key is removed, every
     * peer's static-static secret is recomputed, and current sessions are expired so new handshakes follow. The
     * device keeps a copy of its own, and zeroes it when the key is replaced or the device closes.
     */
    public void setPrivateKey(Key privateKey) {
        setPrivateKey(privateKey, false);
    }

    /**
     * Like {@link #setPrivateKey}, for a new key the peers learn out of band and act on (node-manager's rotate-key,
     * whose peers swap theirs from the registry): this device then sends no initiation for REKEY_TIMEOUT and leaves
     * the new handshake to each peer. Its own would be refused by a peer that does not know the key yet, or reach
     * one that has just learned it and cross that peer's initiation, and two that cross leave both sides waiting
     * out REKEY_TIMEOUT (RotateKeyIT once saw a 5.2 s pause). Should a peer not initiate, the first packet for it
     * after REKEY_TIMEOUT starts the handshake from here.
     */
    public void rotatePrivateKey(Key privateKey) {
        setPrivateKey(privateKey, true);
    }

    private void setPrivateKey(Key privateKey, boolean peersInitiate) {
        synchronized (config) {
            StaticIdentity prev = identity;
            boolean none = privateKey == null || privateKey.isZero();
            if (none ? prev == null : prev != null && prev.privateKey().equals(privateKey)) {
                return;
            }
            StaticIdentity next = none ? null : StaticIdentity.of(Key.of(privateKey.bytes()));
            if (next != null) {
                removePeer(next.publicKey());
            }
            identity = next;
            cookieChecker.init(next == null ? null : next.publicKey());
            for (Peer p : peers.values()) {
                p.handshake.precompute(next);
                p.expireCurrentKeypairs(peersInitiate);
            }
            if (prev != null) {
                prev.privateKey().destroy(); // nothing reads it any more: new handshakes use the new one
            }
        }
    }

    public int listenPort() {
        synchronized (config) {
            return listenPort;
        }
    }

    /** Changes the UDP port (0 = any); an up device rebinds at once and reports the port it got. */
    public void setListenPort(int port) throws IOException {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("listen port must be 0..65535, got " + port);
        }
        synchronized (config) {
            if (port == listenPort && (up || port != 0)) {
                return;
            }
            int previous = listenPort;
            listenPort = port;
            if (up) {
                closeBind();
                try {
                    openBind();
                } catch (IOException e) {
                    // Keep the device reachable where it was: the failed change must change nothing.
                    listenPort = previous;
                    openBind();
                    throw e;
                }
            }
        }
    }

    public int fwmark() {
        synchronized (config) {
            return fwmark;
        }
    }

    public void setFwmark(int mark) throws IOException {
        synchronized (config) {
            fwmark = mark;
            if (up) {
                bind.setMark(mark);
            }
        }
    }

    public boolean forwarding() {
        return forwarding;
    }

    /**
     * Whether a packet that arrives from one peer for another goes straight to that peer, TTL decremented, instead
     * of through the TUN and the kernel's forwarding: off by default (wireguard-go and the kernel leave it to the
     * kernel, whose netfilter FORWARD rules then see it); node-manager turns it on for wg0.
     */
    public void setForwarding(boolean on) {
        forwarding = on;
    }

    public Peer peer(Key publicKey) {
        return peers.get(publicKey);
    }

    public Collection<Peer> peers() {
        return List.copyOf(peers.values());
    }

    /** Returns the peer with this public key, creating it (with no endpoint and no allowed IPs) if needed. */
    public Peer addPeer(Key publicKey) {
        synchronized (config) {
            StaticIdentity local = identity;
            if (local != null && local.publicKey().equals(publicKey)) {
                throw new IllegalArgumentException("a peer cannot have the device's own public key");
            }
            Peer existing = peers.get(publicKey);
            if (existing != null) {
                return existing;
            }
            if (peers.size() >= MAX_PEERS) {
                throw new IllegalStateException("too many peers (limit " + MAX_PEERS + ")");
            }
            Peer peer = new Peer(this, publicKey);
            peer.handshake.precompute(local);
            peers.put(publicKey, peer);
            if (up) {
                peer.start();
            }
            return peer;
        }
    }

    public boolean removePeer(Key publicKey) {
        synchronized (config) {
            Peer peer = peers.remove(publicKey);
            if (peer == null) {
                return false;
            }
            allowedIps.removeByPeer(peer);
            peer.stop();
            peer.handshake.destroy();
            return true;
        }
    }

    public void removeAllPeers() {
        synchronized (config) {
            for (Key k : List.copyOf(peers.keySet())) {
                removePeer(k);
            }
        }
    }

    public void addAllowedIp(Peer peer, Prefix prefix) {
        allowedIps.insert(prefix, peer);
    }

    public void removeAllowedIps(Peer peer) {
        allowedIps.removeByPeer(peer);
    }

    public void removeAllowedIp(Peer peer, Prefix prefix) {
        allowedIps.remove(prefix, peer);
    }

    // ---- lifecycle ----

    public boolean isUp() {
        synchronized (config) {
            return up;
        }
    }

    /** Opens the UDP socket and starts every peer. */
    public void up() throws IOException {
        synchronized (config) {
            if (closed) {
                throw new IllegalStateException("device " + name + " is closed");
            }
            if (up) {
                return;
            }
            openBind();
            up = true;
            for (Peer p : peers.values()) {
                p.start();
            }
        }
        log.info("{}: up, listening on UDP port {}", name, listenPort());
    }

    /** Stops every peer (erasing sessions) and closes the UDP socket. */
    public void down() {
        synchronized (config) {
            if (!up) {
                return;
            }
            up = false;
            for (Peer p : peers.values()) {
                p.stop();
            }
            closeBind();
        }
        log.info("{}: down", name);
    }

    private void openBind() throws IOException {
        int port = bind.open(listenPort);
        listenPort = port;
        if (fwmark != 0) {
            bind.setMark(fwmark);
        }
        if (!bind.pushes()) {
            bindReader = startThread("udp-reader", this::bindReader);
        }
    }

    private void closeBind() {
        bind.close();
        Thread reader = bindReader;
        bindReader = null;
        if (reader != null && reader != Thread.currentThread()) {
            try {
                reader.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        synchronized (config) {
            if (closed) {
                return;
            }
            down();
            closed = true;
            for (Peer p : peers.values()) {
                p.stop();
                p.handshake.destroy();
            }
            peers.clear();
            allowedIps.clear();
            setPrivateKeyZeroed();
        }
        tun.close();
        List<Thread> all;
        synchronized (threads) {
            all = List.copyOf(threads);
        }
        for (Thread t : all) {
            t.interrupt();
        }
        for (Thread t : all) {
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (t.isAlive()) {
                log.warn("{}: thread {} did not stop within 5 s of close", name, t.getName());
            }
        }
    }

    private void setPrivateKeyZeroed() {
        StaticIdentity id = identity;
        identity = null;
        if (id != null) {
            id.privateKey().destroy();
        }
    }

    public boolean isClosed() {
        return closed;
    }

    // ---- data plane: the threads, and the ends of the pipeline ----

    /** The TUN reader: each batch read goes all the way out on this thread. */
    private void tunReader() {
        Packet[] read = packets(Math.min(tun.batchSize(), Outbound.MAX_READ),
                tun.tcpOffload() ? Packet.SUPER_CAPACITY : Packet.HEADROOM + tun.mtu() + Packet.TAILROOM);
        try {
            while (!closed) {
                int n = tun.read(read, read.length);
                if (n < 0) {
                    return;
                }
                try {
                    outbound.fromTun(read, n);
                } catch (RuntimeException e) {
                    stats.internalErrors.increment();
                    log.error("{}: dropped a batch from the TUN after a bug", name, e);
                }
            }
        } catch (IOException e) {
            if (!closed) {
                log.warn("{}: TUN read failed, the interface stops sending: {}", name, e.getMessage());
            }
        }
    }

    /**
     * For a device {@link #withoutThreads}: reads what its TUN has ready, without blocking, and sends it on the
     * calling thread (a poller shared by many devices) in {@code buffers}, which the caller lends for the call.
     * False once the TUN or the device is closed, or the TUN failed (logged): stop polling it.
     */
    public boolean drainTun(Packet[] buffers) {
        if (closed) {
            return false;
        }
        int n;
        try {
            n = tun.readReady(buffers, Math.min(buffers.length, Outbound.MAX_READ));
        } catch (IOException e) {
            if (!closed) {
                log.warn("{}: TUN read failed, the interface stops sending: {}", name, e.getMessage());
            }
            return false;
        }
        if (n < 0) {
            return false;
        }
        if (n > 0) {
            try {
                outbound.fromTun(buffers, n);
            } catch (RuntimeException e) {
                stats.internalErrors.increment();
                log.error("{}: dropped a batch from the TUN after a bug", name, e);
            }
        }
        return !closed;
    }

    /** The UDP reader: each batch received goes all the way in on this thread. */
    private void bindReader() {
        Packet[] received = null;
        int capacity = 0;
        try {
            while (true) {
                if (received == null || capacity != receiveCapacity()) {
                    capacity = receiveCapacity(); // the MTU changed: so did the largest data message
                    received = packets(Math.min(bind.batchSize(), Inbound.MAX_BATCH), capacity);
                }
                int n = bind.receive(received, received.length);
                if (n < 0) {
                    return;
                }
                try {
                    inbound.fromBind(received, n);
                } catch (RuntimeException e) {
                    stats.internalErrors.increment();
                    log.error("{}: dropped a batch from the UDP socket after a bug", name, e);
                }
            }
        } catch (IOException e) {
            if (!closed) {
                log.warn("{}: UDP receive failed: {}", name, e.getMessage());
            }
        }
    }

    private static Packet[] packets(int n, int capacity) {
        Packet[] ps = new Packet[n];
        for (int i = 0; i < n; i++) {
            ps[i] = new Packet(new byte[capacity]);
        }
        return ps;
    }

    /**
     * The longest data message accepted: header, tag, and an inner packet of the MTU (at least {@link
     * #MIN_INNER_LIMIT}) padded. Anything longer is dropped before it is copied anywhere: the index of a session
     * travels in clear, so whoever knows it can send datagrams of any size.
     */
    int maxDataMessage() {
        int inner = Math.max(tun.mtu(), MIN_INNER_LIMIT);
        return Protocol.Data.MIN_SIZE + ((inner + 15) & ~15);
    }

    /** Receive buffers hold the longest data message and no more: a longer datagram is dropped by the bind. */
    private int receiveCapacity() {
        return Math.max(maxDataMessage(), Protocol.Initiation.SIZE) + Packet.TAILROOM;
    }

    /** Sends datagrams to a peer; false (counted) when there is no endpoint or the socket fails. */
    boolean send(Packet[] packets, int count, Endpoint to) {
        if (to == null) {
            stats.noEndpoint.add(count);
            return false;
        }
        try {
            bind.send(packets, count, to);
            return true;
        } catch (IOException e) {
            stats.sendErrors.add(count);
            return false;
        }
    }

    void writeToTun(Packet[] packets, int count) {
        try {
            tun.write(packets, count);
        } catch (IOException e) {
            stats.sendErrors.add(count);
        }
    }

    /** Handshake messages queued or being handled; with idle readers, zero means the device has settled. */
    int handshakesPending() {
        return handshakes.pending();
    }
}
