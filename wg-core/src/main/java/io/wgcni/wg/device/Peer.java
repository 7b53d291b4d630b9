package io.wgcni.wg.device;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.noise.CookieGenerator;
import io.wgcni.wg.noise.Handshake;
import io.wgcni.wg.noise.Keypair;
import io.wgcni.wg.noise.Keypairs;
import io.wgcni.wg.time.Clock;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * A remote peer: its handshake, sessions, cookie state, timers, endpoint and counters, and the packets staged for it
 * while no session can send. Created, configured and removed through {@link Device}; what happens to its packets is
 * in {@link Outbound} and {@link Inbound}.
 */
public final class Peer {
    /** Packets kept while a handshake is under way (wireguard-go's QueueStagedSize); the oldest go first. */
    static final int MAX_STAGED = 128;

    final Device device;
    private final Clock clock;
    private final Key publicKey;
    final Handshake handshake;
    final Keypairs keypairs = new Keypairs();
    final CookieGenerator cookies;
    final Timers timers;
    private final LongAdder rxBytes = new LongAdder();
    private final LongAdder txBytes = new LongAdder();
    /** Copies of packets waiting for a session, in order; guarded by itself. */
    private final ArrayDeque<Packet> staged = new ArrayDeque<>();
    private volatile Endpoint endpoint;
    private volatile int persistentKeepaliveInterval;
    private volatile long lastHandshakeEpochNanos;
    private volatile boolean running;

    Peer(Device device, Key publicKey) {
        this.device = device;
        this.clock = device.clock;
        this.publicKey = publicKey;
        this.handshake = new Handshake(publicKey);
        this.cookies = new CookieGenerator(publicKey);
        this.timers = new Timers(this, clock);
    }

    public Key publicKey() {
        return publicKey;
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    public void setEndpoint(Endpoint endpoint) {
        this.endpoint = endpoint;
    }

    public Key presharedKey() {
        return handshake.presharedKey();
    }

    public void setPresharedKey(Key psk) {
        handshake.setPresharedKey(psk);
    }

    public int persistentKeepaliveInterval() {
        return persistentKeepaliveInterval;
    }

    /** Seconds, 0 = off. Turning it on while the device is up sends a keepalive at once, as wireguard-go does. */
    public void setPersistentKeepaliveInterval(int seconds) {
        if (seconds < 0 || seconds > 65535) {
            throw new IllegalArgumentException("persistent keepalive interval must be 0..65535 seconds");
        }
        int old = persistentKeepaliveInterval;
        persistentKeepaliveInterval = seconds;
        if (old == 0 && seconds > 0 && running) {
            sendKeepalive();
        }
    }

    public long rxBytes() {
        return rxBytes.sum();
    }

    public long txBytes() {
        return txBytes.sum();
    }

    /** Wall-clock time of the last completed handshake, nanoseconds since the epoch; 0 = never. */
    public long lastHandshakeEpochNanos() {
        return lastHandshakeEpochNanos;
    }

    public List<Prefix> allowedIps() {
        return device.allowedIps.prefixes(this);
    }

    public boolean isRunning() {
        return running;
    }

    /** The session used for sending now, for tests and status; null before the first handshake. */
    public Keypair currentKeypair() {
        return keypairs.current();
    }

    void start() {
        handshake.resetPacing();
        running = true;
        if (persistentKeepaliveInterval > 0) {
            sendKeepalive();
        }
    }

    void stop() {
        running = false;
        timers.stop();
        zeroKeyMaterial();
        dropStaged();
    }

    // ---- what the timers and the handshake path ask of a peer (timers.c's calls into send.c and noise.c) ----

    void sendHandshakeInitiation(boolean retry) {
        device.outbound.sendHandshakeInitiation(this, retry);
    }

    void sendKeepalive() {
        device.outbound.sendKeepalive(this);
    }

    void recordHandshakeTime() {
        lastHandshakeEpochNanos = clock.epochNanos();
    }

    void countReceived(long bytes) {
        rxBytes.add(bytes);
    }

    void countSent(long bytes) {
        txBytes.add(bytes);
    }

    /** Erases sessions and the handshake in flight (after 3 * REJECT_AFTER_TIME without a new session). */
    void zeroKeyMaterial() {
        releaseIndexes(keypairs.clear());
        synchronized (handshake) {
            releaseHandshakeIndex();
            handshake.clear();
        }
    }

    /**
     * Stops sending under the current sessions (the device key changed): the next packet starts a handshake, or,
     * when {@code peerInitiates}, waits up to REKEY_TIMEOUT for the peer to start one. Pacing is set before the
     * sessions expire, so no packet in between can start a handshake it should not.
     */
    void expireCurrentKeypairs(boolean peerInitiates) {
        synchronized (handshake) {
            releaseHandshakeIndex();
            handshake.clear();
        }
        if (peerInitiates) {
            handshake.deferInitiations(clock.nanoTime());
        } else {
            handshake.resetPacing();
        }
        keypairs.expireCurrent();
    }

    void releaseHandshakeIndex() {
        int old = handshake.localIndex();
        if (old != 0) {
            device.indexTable.remove(old);
        }
    }

    /** Installs a freshly derived session under its index and forgets the indexes of those it pushes out. */
    void installKeypair(Keypair keypair) {
        device.indexTable.replace(keypair.localIndex(), new IndexEntry(this, null, keypair));
        releaseIndexes(keypairs.install(keypair));
    }

    void releaseIndexes(Keypair[] dropped) {
        if (dropped == null) {
            return;
        }
        for (Keypair k : dropped) {
            if (k != null) {
                device.indexTable.remove(k.localIndex());
            }
        }
    }

    // ---- the staged queue ----

    /** Keeps a copy of {@code p} until a session exists; the oldest is dropped (and counted) past MAX_STAGED. */
    void stage(Packet p) {
        Packet copy = new Packet(new byte[Math.max(Packet.DEFAULT_CAPACITY, p.end() + Packet.TAILROOM)]);
        copy.copyFrom(p);
        synchronized (staged) {
            if (staged.size() == MAX_STAGED) {
                staged.pollFirst();
                device.stats.queueFull.increment();
            }
            staged.addLast(copy);
        }
    }

    boolean hasStaged() {
        synchronized (staged) {
            return !staged.isEmpty();
        }
    }

    /** Takes up to {@code max} staged packets, oldest first, into {@code out}; returns how many. */
    int takeStaged(Packet[] out, int max) {
        synchronized (staged) {
            int n = 0;
            while (n < max && !staged.isEmpty()) {
                out[n++] = staged.pollFirst();
            }
            return n;
        }
    }

    /** Puts packets back at the head of the queue, in their order (a session could not send them after all). */
    void unstage(Packet[] ps, int from, int count) {
        synchronized (staged) {
            for (int i = from + count - 1; i >= from; i--) {
                if (staged.size() == MAX_STAGED) {
                    device.stats.queueFull.increment();
                    continue;
                }
                staged.addFirst(ps[i]);
            }
        }
    }

    void dropStaged() {
        synchronized (staged) {
            staged.clear();
        }
    }

    @Override
    public String toString() {
        return "peer(" + publicKey.shortForm() + ")";
    }
}
