package io.wgcni.wg.device;

import io.wgcni.wg.crypto.ChaChaPoly;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.io.Bind;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.io.Tun;
import io.wgcni.wg.noise.CookieChecker;
import io.wgcni.wg.noise.Handshake;
import io.wgcni.wg.noise.IndexTable;
import io.wgcni.wg.noise.Keypair;
import io.wgcni.wg.noise.Noise;
import io.wgcni.wg.noise.Protocol;
import io.wgcni.wg.noise.StaticIdentity;
import io.wgcni.wg.time.Clock;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A WireGuard interface: the static identity, the peers, the allowed-IPs table, and the data plane between a
 * {@link Tun} and a {@link Bind}.
 *
 * <p>Threads: one reads the TUN, one reads the UDP socket; each sorts what it read into per-peer batches. Crypto
 * workers (one per core) encrypt and decrypt batches from one queue; the worker that finishes the oldest batch
 * of a peer delivers it and every finished batch behind it, which keeps each peer's packets in order. Handshake
 * workers take handshake messages from their own queue, whose length tells whether the device is under load.
 */
public final class Device implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Device.class);
    static final int MAX_PEERS = 1 << 16;
    static final int HANDSHAKE_QUEUE = 1024;
    static final int CRYPTO_QUEUE = 1024;
    /** Batches this small skip the worker queue when it is empty (see {@link #submit}). */
    static final int INLINE_BATCH = 2;
    /** Under load for at least this long after the handshake queue was last found busy. */
    static final long UNDER_LOAD_AFTER = 1_000_000_000L;

    private record HandshakeMessage(byte[] bytes, Endpoint source) {}

    final Clock clock;
    final Tun tun;
    final Bind bind;
    final String name;
    final AllowedIps<Peer> allowedIps = new AllowedIps<>();
    final IndexTable<IndexEntry> indexTable = new IndexTable<>();
    final CookieChecker cookieChecker = new CookieChecker();
    final RateLimiter rateLimiter;
    final Stats stats = new Stats();
    final BatchPool pool;
    private final int batchSize;
    private final ConcurrentHashMap<Key, Peer> peers = new ConcurrentHashMap<>();
    private final BlockingQueue<Batch> cryptoQueue = new ArrayBlockingQueue<>(CRYPTO_QUEUE);
    private final BlockingQueue<HandshakeMessage> handshakeQueue = new ArrayBlockingQueue<>(HANDSHAKE_QUEUE);
    private final List<Thread> threads = new ArrayList<>();
    private final ThreadLocal<ChaChaPoly> inlineAead = ThreadLocal.withInitial(ChaChaPoly::new);
    private final Object config = new Object();
    private volatile StaticIdentity identity;
    private volatile long underLoadUntil;
    /** Tests force the cookie path; production leaves it to the queue length. */
    volatile boolean forceUnderLoad;
    private int listenPort;
    private int fwmark;
    private boolean up;
    private Thread bindReader;
    private volatile boolean closed;

    public Device(String name, Tun tun, Bind bind, Clock clock) {
        this(name, tun, bind, clock, Runtime.getRuntime().availableProcessors());
    }

    public Device(String name, Tun tun, Bind bind, Clock clock, int workers) {
        this.name = name;
        this.tun = tun;
        this.bind = bind;
        this.clock = clock;
        this.rateLimiter = new RateLimiter(clock);
        this.batchSize = Math.max(tun.batchSize(), bind.batchSize());
        this.pool = new BatchPool(batchSize, 2 * CRYPTO_QUEUE);
        for (int i = 0; i < workers; i++) {
            startThread("crypto-" + i, this::cryptoWorker);
            startThread("handshake-" + i, this::handshakeWorker);
        }
        startThread("tun-reader", this::tunReader);
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

    // ---- configuration ----

    public StaticIdentity identity() {
        return identity;
    }

    /**
     * Sets the private key (null or all zeros removes it). A peer with the new public key is removed, every
     * peer's static-static secret is recomputed, and current sessions are expired so new handshakes follow.
     */
    public void setPrivateKey(Key privateKey) {
        synchronized (config) {
            StaticIdentity next = privateKey == null || privateKey.isZero() ? null : StaticIdentity.of(privateKey);
            StaticIdentity prev = identity;
            if (next == null ? prev == null : prev != null && prev.privateKey().equals(next.privateKey())) {
                return;
            }
            if (next != null) {
                removePeer(next.publicKey());
            }
            identity = next;
            cookieChecker.init(next == null ? null : next.publicKey());
            for (Peer p : peers.values()) {
                p.handshake.precompute(next);
                p.expireCurrentKeypairs();
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
        bindReader = startThread("udp-reader", this::bindReader);
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

    // ---- data plane ----

    /** Hands an outbound or inbound batch to the workers, behind its peer's earlier batches. */
    void submit(Batch b, OrderedQueue order) {
        if (!order.offer(b)) {
            stats.queueFull.add(b.count);
            pool.give(b);
            return;
        }
        if (b.count <= INLINE_BATCH && cryptoQueue.isEmpty()) {
            // A packet or two on an idle device: crypto here saves two thread hand-offs of latency.
            crypt(inlineAead.get(), b);
            finishSafely(b);
            return;
        }
        if (!cryptoQueue.offer(b)) {
            stats.queueFull.add(b.count);
            b.dropped = true;
            finish(b);
        }
    }

    private void crypt(ChaChaPoly aead, Batch b) {
        try {
            if (!b.dropped) {
                if (b.outbound) {
                    encrypt(aead, b);
                } else {
                    decrypt(aead, b);
                }
            }
        } catch (RuntimeException e) {
            stats.internalErrors.increment();
            log.error("{}: dropped a batch after a bug in its crypto", name, e);
            b.dropped = true;
        }
    }

    private void finishSafely(Batch b) {
        try {
            finish(b);
        } catch (RuntimeException e) {
            stats.internalErrors.increment();
            log.error("{}: delivering a batch failed after a bug", name, e);
        }
    }

    /**
     * Marks a batch done and delivers what is ready. Once {@code done} is set another drainer may deliver and
     * recycle the batch at any moment, so its peer and direction are read before.
     */
    private static void finish(Batch b) {
        Peer peer = b.peer;
        boolean outbound = b.outbound;
        b.done = true;
        if (outbound) {
            peer.outbound.drain(peer::deliverOutbound);
        } else {
            peer.inbound.drain(peer::deliverInbound);
        }
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

    private void tunReader() {
        Batch read = pool.take();
        List<Peer> touched = new ArrayList<>();
        try {
            while (!closed) {
                int n = tun.read(read.packets, batchSize);
                if (n < 0) {
                    return;
                }
                read.count = n;
                for (int i = 0; i < n; i++) {
                    routeOutbound(read, i, touched);
                }
                for (Peer peer : touched) {
                    Batch b = peer.tunStaging;
                    peer.tunStaging = null;
                    peer.stageAndSend(b);
                }
                touched.clear();
                read.count = 0;
            }
        } catch (IOException e) {
            if (!closed) {
                log.warn("{}: TUN read failed, the interface stops sending: {}", name, e.getMessage());
            }
        }
    }

    private void routeOutbound(Batch read, int i, List<Peer> touched) {
        Packet p = read.packets[i];
        int version = p.length > 0 ? (p.buf[p.offset] & 0xf0) >>> 4 : 0;
        Peer peer;
        if (version == 4 && p.length >= 20) {
            peer = allowedIps.lookup(p.buf, p.offset + 16, 4);
        } else if (version == 6 && p.length >= 40) {
            peer = allowedIps.lookup(p.buf, p.offset + 24, 16);
        } else {
            stats.invalidInnerPacket.increment();
            return;
        }
        if (peer == null || !peer.isRunning()) {
            stats.noRoute.increment();
            return;
        }
        Batch staging = peer.tunStaging;
        if (staging == null) {
            staging = peer.tunStaging = pool.take();
            touched.add(peer);
        } else if (staging.isFull()) {
            peer.stageAndSend(staging);
            staging = peer.tunStaging = pool.take();
        }
        staging.takeFrom(read, i);
    }

    private void bindReader() {
        Batch read = pool.take();
        List<Peer> touched = new ArrayList<>();
        try {
            while (true) {
                int n = bind.receive(read.packets, batchSize);
                if (n < 0) {
                    return;
                }
                long now = clock.nanoTime();
                for (int i = 0; i < n; i++) {
                    dispatchInbound(read, i, now, touched);
                }
                for (Peer peer : touched) {
                    Batch b = peer.bindStaging;
                    peer.bindStaging = null;
                    submitInbound(peer, b);
                }
                touched.clear();
            }
        } catch (IOException e) {
            if (!closed) {
                log.warn("{}: UDP receive failed: {}", name, e.getMessage());
            }
        } catch (RuntimeException e) {
            stats.internalErrors.increment();
            log.error("{}: UDP reader stopped by a bug", name, e);
        }
    }

    private void submitInbound(Peer peer, Batch b) {
        b.peer = peer;
        b.outbound = false;
        submit(b, peer.inbound);
    }

    private void dispatchInbound(Batch read, int i, long now, List<Peer> touched) {
        Packet p = read.packets[i];
        int type = Protocol.messageType(p.buf, p.offset, p.length);
        switch (type) {
            case Protocol.TYPE_DATA -> dispatchData(read, i, now, touched);
            case Protocol.TYPE_INITIATION, Protocol.TYPE_RESPONSE, Protocol.TYPE_COOKIE_REPLY -> {
                byte[] copy = java.util.Arrays.copyOfRange(p.buf, p.offset, p.offset + p.length);
                if (!handshakeQueue.offer(new HandshakeMessage(copy, p.endpoint))) {
                    stats.queueFull.increment();
                }
            }
            default -> stats.invalidMessage.increment();
        }
    }

    private void dispatchData(Batch read, int i, long now, List<Peer> touched) {
        Packet p = read.packets[i];
        IndexEntry entry = indexTable.get(Protocol.getInt(p.buf, p.offset + Protocol.Data.RECEIVER));
        if (entry == null || entry.keypair() == null) {
            stats.unknownIndex.increment();
            return;
        }
        Keypair keypair = entry.keypair();
        Peer peer = entry.peer();
        if (!keypair.canReceive(now) || !peer.isRunning()) {
            stats.expiredKeypair.increment();
            return;
        }
        Batch staging = peer.bindStaging;
        if (staging == null) {
            staging = peer.bindStaging = pool.take();
            touched.add(peer);
        } else if (staging.isFull()) {
            submitInbound(peer, staging);
            staging = peer.bindStaging = pool.take();
        }
        int slot = staging.count;
        staging.keypairs[slot] = keypair;
        staging.counters[slot] = Protocol.getLong(p.buf, p.offset + Protocol.Data.COUNTER);
        staging.takeFrom(read, i);
    }

    private void cryptoWorker() {
        ChaChaPoly aead = new ChaChaPoly();
        try {
            while (!closed) {
                Batch b = cryptoQueue.take();
                crypt(aead, b);
                finishSafely(b);
            }
        } catch (InterruptedException e) {
            // closing
        }
    }

    private void encrypt(ChaChaPoly aead, Batch b) {
        Keypair keypair = b.keypair;
        int mtu = tun.mtu();
        for (int i = 0; i < b.count; i++) {
            Packet p = b.packets[i];
            int len = p.length;
            int padded = len + paddingSize(len, mtu);
            p.ensureCapacity(p.offset + padded + Protocol.TAG_LENGTH);
            java.util.Arrays.fill(p.buf, p.offset + len, p.offset + padded, (byte) 0);
            int header = p.offset - Protocol.Data.HEADER_SIZE;
            Protocol.putInt(p.buf, header, Protocol.TYPE_DATA);
            Protocol.putInt(p.buf, header + Protocol.Data.RECEIVER, keypair.remoteIndex());
            Protocol.putLong(p.buf, header + Protocol.Data.COUNTER, b.counters[i]);
            int sealed = aead.seal(keypair.sendKey(), b.counters[i], p.buf, p.offset, padded, p.buf, p.offset, null);
            p.set(header, Protocol.Data.HEADER_SIZE + sealed);
        }
    }

    /** Zero padding to a multiple of 16, never past the MTU (whitepaper 5.4.6, wireguard-go's rule). */
    static int paddingSize(int packetSize, int mtu) {
        int lastUnit = packetSize;
        if (mtu == 0) {
            return ((lastUnit + 15) & ~15) - lastUnit;
        }
        if (lastUnit > mtu) {
            lastUnit %= mtu;
        }
        int padded = Math.min((lastUnit + 15) & ~15, mtu);
        return Math.max(0, padded - lastUnit);
    }

    private void decrypt(ChaChaPoly aead, Batch b) {
        for (int i = 0; i < b.count; i++) {
            Packet p = b.packets[i];
            int body = p.offset + Protocol.Data.HEADER_SIZE;
            int n = aead.open(b.keypairs[i].receiveKey(), b.counters[i], p.buf, body,
                p.length - Protocol.Data.HEADER_SIZE, p.buf, body, null);
            p.set(body, n);
        }
    }

    // ---- handshakes ----

    private boolean underLoad() {
        long now = clock.nanoTime();
        if (forceUnderLoad || handshakeQueue.size() >= HANDSHAKE_QUEUE / 8) {
            underLoadUntil = now + UNDER_LOAD_AFTER;
            return true;
        }
        return now < underLoadUntil;
    }

    private void handshakeWorker() {
        try {
            while (!closed) {
                HandshakeMessage m = handshakeQueue.take();
                try {
                    handleHandshake(m.bytes(), m.source());
                } catch (RuntimeException e) {
                    stats.badHandshake.increment();
                    stats.internalErrors.increment();
                    log.error("{}: handshake worker dropped a message after a bug", name, e);
                }
            }
        } catch (InterruptedException e) {
            // closing
        }
    }

    /** One handshake message, as wireguard-go's RoutineHandshake: cookie reply, or MAC checks then Noise. */
    void handleHandshake(byte[] msg, Endpoint source) {
        int type = Protocol.getInt(msg, 0);
        long now = clock.nanoTime();
        if (type == Protocol.TYPE_COOKIE_REPLY) {
            IndexEntry entry = indexTable.get(Protocol.getInt(msg, Protocol.CookieReply.RECEIVER));
            if (entry == null || !entry.peer().cookies.consumeReply(msg, 0, now)) {
                stats.badHandshake.increment();
            }
            return;
        }
        if (!cookieChecker.checkMac1(msg, 0, msg.length)) {
            stats.badMac1.increment();
            return;
        }
        if (underLoad()) {
            byte[] src = sourceBytes(source);
            if (!cookieChecker.checkMac2(msg, 0, msg.length, src, now)) {
                byte[] reply = new byte[Protocol.CookieReply.SIZE];
                int sender = Protocol.getInt(msg, Protocol.Initiation.SENDER);
                if (cookieChecker.createReply(msg, 0, msg.length, sender, src, now, reply, 0)) {
                    send(new Packet[] {new Packet(reply)}, 1, source);
                    stats.cookieRepliesSent.increment();
                }
                return;
            }
            if (!rateLimiter.allow(source.address())) {
                stats.rateLimited.increment();
                return;
            }
        }
        if (type == Protocol.TYPE_INITIATION) {
            Handshake hs = Noise.consumeInitiation(identity, msg, 0, this::runningHandshake, now);
            Peer peer = hs == null ? null : peers.get(hs.remoteStatic());
            if (peer == null) {
                stats.badHandshake.increment();
                return;
            }
            peer.setEndpoint(source);
            peer.countReceived(msg.length);
            peer.timers.anyAuthenticatedPacketTraversal();
            peer.timers.anyAuthenticatedPacketReceived();
            peer.sendHandshakeResponse();
        } else {
            IndexEntry entry = indexTable.get(Protocol.getInt(msg, Protocol.Response.RECEIVER));
            if (entry == null || entry.handshake() == null
                || !Noise.consumeResponse(identity, entry.handshake(), msg, 0)) {
                stats.badHandshake.increment();
                return;
            }
            Peer peer = entry.peer();
            peer.setEndpoint(source);
            peer.countReceived(msg.length);
            peer.timers.anyAuthenticatedPacketTraversal();
            peer.timers.anyAuthenticatedPacketReceived();
            peer.completeHandshakeAsInitiator();
        }
    }

    private Handshake runningHandshake(Key publicKey) {
        Peer p = peers.get(publicKey);
        return p != null && p.isRunning() ? p.handshake : null;
    }

    /** What a cookie is bound to: the source address and port, as the kernel hashes them. */
    private static byte[] sourceBytes(Endpoint e) {
        byte[] addr = e.address().getAddress();
        byte[] out = java.util.Arrays.copyOf(addr, addr.length + 2);
        out[addr.length] = (byte) (e.port() >>> 8);
        out[addr.length + 1] = (byte) e.port();
        return out;
    }
}
