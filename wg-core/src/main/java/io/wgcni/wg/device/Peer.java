package io.wgcni.wg.device;

import static io.wgcni.wg.noise.Protocol.KEEPALIVE_TIMEOUT;
import static io.wgcni.wg.noise.Protocol.REJECT_AFTER_TIME;
import static io.wgcni.wg.noise.Protocol.REKEY_AFTER_MESSAGES;
import static io.wgcni.wg.noise.Protocol.REKEY_AFTER_TIME;
import static io.wgcni.wg.noise.Protocol.REKEY_TIMEOUT;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.noise.CookieGenerator;
import io.wgcni.wg.noise.Handshake;
import io.wgcni.wg.noise.Keypair;
import io.wgcni.wg.noise.Keypairs;
import io.wgcni.wg.noise.Noise;
import io.wgcni.wg.noise.Protocol;
import io.wgcni.wg.noise.StaticIdentity;
import io.wgcni.wg.time.Clock;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * A remote peer: its handshake, sessions, cookie state, timers and endpoint, and the two in-order stages of
 * the data plane (what to send, what was received). Created, configured and removed through {@link Device}.
 */
public final class Peer {
    static final int QUEUE_BATCHES = 256;

    private final Device device;
    private final Clock clock;
    private final Key publicKey;
    final Handshake handshake;
    final Keypairs keypairs = new Keypairs();
    final CookieGenerator cookies;
    final Timers timers;
    final OrderedQueue outbound = new OrderedQueue(QUEUE_BATCHES);
    final OrderedQueue inbound = new OrderedQueue(QUEUE_BATCHES);
    private final LongAdder rxBytes = new LongAdder();
    private final LongAdder txBytes = new LongAdder();
    private final Object stageLock = new Object();
    private Batch staged;
    private volatile Endpoint endpoint;
    private volatile int persistentKeepaliveInterval;
    private volatile long lastHandshakeEpochNanos;
    private volatile boolean running;
    /** Owned by the TUN reader thread while it sorts a read batch by peer. */
    Batch tunStaging;
    /** Owned by the UDP reader thread while it sorts a received batch by peer. */
    Batch bindStaging;

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
        outbound.clear(device.pool::give);
        inbound.clear(device.pool::give);
    }

    // ---- handshake ----

    /** Sends an initiation unless one went out less than REKEY_TIMEOUT ago. */
    void sendHandshakeInitiation(boolean retry) {
        if (!running) {
            return;
        }
        if (!retry) {
            timers.resetHandshakeAttempts();
        }
        long now = clock.nanoTime();
        StaticIdentity local = device.identity();
        if (local == null || !handshake.claimInitiationSlot(now)) {
            return;
        }
        byte[] msg = new byte[Protocol.Initiation.SIZE];
        synchronized (handshake) {
            releaseHandshakeIndex();
            int index = device.indexTable.add(new IndexEntry(this, handshake, null));
            if (!Noise.createInitiation(local, handshake, index, clock.epochNanos(), msg, 0)) {
                device.indexTable.remove(index);
                return;
            }
        }
        cookies.addMacs(msg, 0, msg.length, now);
        timers.anyAuthenticatedPacketTraversal();
        timers.anyAuthenticatedPacketSent();
        sendHandshakeMessage(msg);
        timers.handshakeInitiated();
    }

    /** Answers the initiation just consumed into {@link #handshake} and starts the new session. */
    void sendHandshakeResponse() {
        long now = clock.nanoTime();
        byte[] msg = new byte[Protocol.Response.SIZE];
        Keypair keypair;
        synchronized (handshake) {
            releaseHandshakeIndex();
            int index = device.indexTable.add(new IndexEntry(this, handshake, null));
            if (!Noise.createResponse(handshake, index, now, msg, 0)) {
                device.indexTable.remove(index);
                return;
            }
            keypair = Noise.beginSession(handshake, now);
        }
        cookies.addMacs(msg, 0, msg.length, now);
        installKeypair(keypair);
        timers.sessionDerived();
        timers.anyAuthenticatedPacketTraversal();
        timers.anyAuthenticatedPacketSent();
        sendHandshakeMessage(msg);
    }

    /** The initiator's last step, after the response was authenticated. */
    void completeHandshakeAsInitiator() {
        Keypair keypair = Noise.beginSession(handshake, clock.nanoTime());
        if (keypair == null) {
            return;
        }
        installKeypair(keypair);
        timers.sessionDerived();
        timers.handshakeComplete();
        sendKeepalive();
    }

    private void releaseHandshakeIndex() {
        int old = handshake.localIndex();
        if (old != 0) {
            device.indexTable.remove(old);
        }
    }

    private void installKeypair(Keypair keypair) {
        device.indexTable.replace(keypair.localIndex(), new IndexEntry(this, null, keypair));
        releaseIndexes(keypairs.install(keypair));
    }

    private void releaseIndexes(Keypair[] dropped) {
        if (dropped == null) {
            return;
        }
        for (Keypair k : dropped) {
            if (k != null) {
                device.indexTable.remove(k.localIndex());
            }
        }
    }

    private void sendHandshakeMessage(byte[] msg) {
        Packet p = new Packet(msg);
        if (device.send(new Packet[] {p}, 1, endpoint)) {
            txBytes.add(msg.length);
        }
    }

    void recordHandshakeTime() {
        lastHandshakeEpochNanos = clock.epochNanos();
    }

    void countReceived(int bytes) {
        rxBytes.add(bytes);
    }

    /** Erases sessions and the handshake in flight (after 3 * REJECT_AFTER_TIME without a new session). */
    void zeroKeyMaterial() {
        releaseIndexes(keypairs.clear());
        synchronized (handshake) {
            releaseHandshakeIndex();
            handshake.clear();
        }
    }

    /** Makes the next packet start a handshake (the device key changed). */
    void expireCurrentKeypairs() {
        synchronized (handshake) {
            releaseHandshakeIndex();
            handshake.clear();
        }
        handshake.resetPacing();
        keypairs.expireCurrent();
    }

    // ---- send path ----

    /** Takes a batch of IP packets routed to this peer and sends it, or keeps it until a session exists. */
    void stageAndSend(Batch batch) {
        int overflow = 0;
        synchronized (stageLock) {
            if (staged == null) {
                staged = batch;
                batch = null;
            } else {
                int i = 0;
                while (i < batch.count && !staged.isFull()) {
                    staged.takeFrom(batch, i++);
                }
                overflow = batch.count - i;
            }
        }
        if (batch != null) {
            // Waiting for a handshake: keep at most one batch, like wireguard-go's staged queue.
            device.stats.queueFull.add(overflow);
            device.pool.give(batch);
        }
        sendStaged();
    }

    /** A keepalive is an empty data message; sent only when nothing else is waiting to go. */
    void sendKeepalive() {
        synchronized (stageLock) {
            if (staged == null) {
                staged = device.pool.take();
            }
            if (staged.count == 0) {
                staged.packets[0].set(Packet.HEADROOM, 0);
                staged.count = 1;
            }
        }
        sendStaged();
    }

    /** Encrypts and sends what is staged with the current session, or asks for a handshake. */
    void sendStaged() {
        if (!running) {
            return;
        }
        boolean needHandshake = false;
        synchronized (stageLock) {
            Batch b = staged;
            if (b == null || b.count == 0) {
                return;
            }
            long now = clock.nanoTime();
            Keypair keypair = keypairs.current();
            if (keypair == null || !keypair.canSend(now)) {
                needHandshake = true;
            } else {
                for (int i = 0; i < b.count; i++) {
                    long counter = keypair.nextSendCounter(now);
                    if (counter < 0) {
                        needHandshake = true;
                        break;
                    }
                    b.counters[i] = counter;
                }
            }
            if (!needHandshake) {
                staged = null;
                b.peer = this;
                b.outbound = true;
                b.keypair = keypair;
                device.submit(b, outbound);
            }
        }
        if (needHandshake) {
            sendHandshakeInitiation(false);
        }
    }

    void dropStaged() {
        Batch b;
        synchronized (stageLock) {
            b = staged;
            staged = null;
        }
        if (b != null) {
            device.pool.give(b);
        }
    }

    /** The in-order end of the send path: runs on whichever crypto worker drains {@link #outbound}. */
    void deliverOutbound(Batch b) {
        try {
            if (b.dropped || !running) {
                return;
            }
            Endpoint to = endpoint;
            boolean dataSent = false;
            long bytes = 0;
            for (int i = 0; i < b.count; i++) {
                int len = b.packets[i].length;
                dataSent |= len > Protocol.Data.MIN_SIZE;
                bytes += len;
            }
            timers.anyAuthenticatedPacketTraversal();
            timers.anyAuthenticatedPacketSent();
            if (device.send(b.packets, b.count, to)) {
                txBytes.add(bytes);
            }
            if (dataSent) {
                timers.dataSent();
            }
            keepKeyFreshSending();
        } finally {
            device.pool.give(b);
        }
    }

    private void keepKeyFreshSending() {
        Keypair k = keypairs.current();
        long now = clock.nanoTime();
        if (k != null && k.isValid() && (Long.compareUnsigned(k.sentMessages(), REKEY_AFTER_MESSAGES) > 0
            || (k.isInitiator() && now - k.created() >= REKEY_AFTER_TIME))) {
            sendHandshakeInitiation(false);
        }
    }

    // ---- receive path ----

    /** The in-order end of the receive path: replay check, key confirmation, timers, source check, TUN write. */
    void deliverInbound(Batch b) {
        try {
            if (b.dropped || !running) {
                return;
            }
            int accepted = 0;
            boolean any = false;
            boolean anyData = false;
            boolean confirmed = false;
            Endpoint from = null;
            for (int i = 0; i < b.count; i++) {
                Packet p = b.packets[i];
                Keypair keypair = b.keypairs[i];
                if (p.length < 0) {
                    device.stats.badTag.increment();
                    continue;
                }
                if (!keypair.acceptCounter(b.counters[i])) {
                    device.stats.replayed.increment();
                    continue;
                }
                any = true;
                from = p.endpoint;
                rxBytes.add(p.length + Protocol.Data.MIN_SIZE);
                Keypair[] dropped = keypairs.receivedWith(keypair);
                if (dropped != null) {
                    releaseIndexes(dropped);
                    timers.handshakeComplete();
                    confirmed = true;
                }
                if (p.length == 0) {
                    continue; // keepalive
                }
                anyData = true;
                if (!trimToIpPacket(p)) {
                    device.stats.invalidInnerPacket.increment();
                    continue;
                }
                boolean v4 = (p.buf[p.offset] & 0xf0) == 0x40;
                if (device.allowedIps.lookup(p.buf, p.offset + (v4 ? 12 : 8), v4 ? 4 : 16) != this) {
                    device.stats.disallowedSource.increment();
                    continue;
                }
                b.packets[i] = b.packets[accepted];
                b.packets[accepted++] = p;
            }
            if (any) {
                if (from != null) {
                    endpoint = from;
                }
                keepKeyFreshReceiving();
                timers.anyAuthenticatedPacketTraversal();
                timers.anyAuthenticatedPacketReceived();
                if (anyData) {
                    timers.dataReceived();
                }
            }
            if (confirmed) {
                sendStaged();
            }
            if (accepted > 0) {
                device.writeToTun(b.packets, accepted);
            }
        } finally {
            device.pool.give(b);
        }
    }

    /** Checks the IP header of a decrypted payload and cuts the padding off; false if it is no IP packet. */
    private static boolean trimToIpPacket(Packet p) {
        byte[] buf = p.buf;
        int off = p.offset;
        int version = (buf[off] & 0xf0) >>> 4;
        int total;
        if (version == 4 && p.length >= 20) {
            total = ((buf[off + 2] & 0xff) << 8) | (buf[off + 3] & 0xff);
            if (total < 20) {
                return false;
            }
        } else if (version == 6 && p.length >= 40) {
            total = 40 + (((buf[off + 4] & 0xff) << 8) | (buf[off + 5] & 0xff));
        } else {
            return false;
        }
        if (total > p.length) {
            return false;
        }
        p.length = total;
        return true;
    }

    private void keepKeyFreshReceiving() {
        Keypair k = keypairs.current();
        if (k != null && k.isValid() && k.isInitiator()
            && clock.nanoTime() - k.created() >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT
            && timers.claimLastMinuteHandshake()) {
            sendHandshakeInitiation(false);
        }
    }

    @Override
    public String toString() {
        return "peer(" + publicKey.shortForm() + ")";
    }
}
