package io.wgcni.wg.device;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.noise.Handshake;
import io.wgcni.wg.noise.Noise;
import io.wgcni.wg.noise.Protocol;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Handshake messages received (wireguard-go's RoutineHandshake, the kernel's wg_packet_handshake_receive_worker):
 * queued by {@link Inbound}, consumed by worker threads, because a handshake costs several X25519 operations and
 * anyone can send one. The queue's length is what puts the device "under load": then MAC2 must carry a valid cookie
 * (else a cookie reply goes back) and each source address is rate limited, so a flood of initiations costs the
 * sender a round trip each and cannot starve the peers that complete their handshakes.
 */
final class HandshakeReceiver {
    private static final Logger log = LoggerFactory.getLogger(HandshakeReceiver.class);
    static final int QUEUE = 1024;
    /** Under load for at least this long after the queue was last found busy. */
    static final long UNDER_LOAD_AFTER = 1_000_000_000L;

    private record Message(byte[] bytes, Endpoint source) {}

    private final Device device;
    private final BlockingQueue<Message> queue = new ArrayBlockingQueue<>(QUEUE);
    /** Messages queued or being handled: what tests wait on to see the device settle. */
    private final AtomicInteger pending = new AtomicInteger();
    private volatile long underLoadUntil;
    /** Tests force the cookie path; production leaves it to the queue length. */
    volatile boolean forceUnderLoad;
    /** No workers: each message is handled on the thread that delivers it ({@link Device#withoutThreads}). */
    boolean inline;

    HandshakeReceiver(Device device) {
        this.device = device;
    }

    /** From the receive path: keeps a copy of the message for a worker, or drops it (counted) when full. */
    void enqueue(Packet p) {
        byte[] copy = Arrays.copyOfRange(p.buf, p.offset, p.offset + p.length);
        pending.incrementAndGet();
        if (inline) {
            handleCounted(copy, p.endpoint);
            return;
        }
        if (!queue.offer(new Message(copy, p.endpoint))) {
            pending.decrementAndGet();
            device.stats.queueFull.increment();
        }
    }

    int pending() {
        return pending.get();
    }

    /** A worker's loop, until the device closes. */
    void work() {
        try {
            while (!device.isClosed()) {
                Message m = queue.take();
                handleCounted(m.bytes(), m.source());
            }
        } catch (InterruptedException e) {
            // closing
        }
    }

    private void handleCounted(byte[] msg, Endpoint source) {
        try {
            handle(msg, source);
        } catch (RuntimeException e) {
            device.stats.badHandshake.increment();
            device.stats.internalErrors.increment();
            log.error("{}: dropped a handshake message after a bug", device.name(), e);
        } finally {
            pending.decrementAndGet();
        }
    }

    private boolean underLoad() {
        long now = device.clock.nanoTime();
        if (forceUnderLoad || queue.size() >= QUEUE / 8) {
            underLoadUntil = now + UNDER_LOAD_AFTER;
            return true;
        }
        return now < underLoadUntil;
    }

    /** One handshake message: a cookie reply, or MAC checks (and under load, cookie and rate limit) then Noise. */
    void handle(byte[] msg, Endpoint source) {
        int type = Protocol.getInt(msg, 0);
        long now = device.clock.nanoTime();
        if (type == Protocol.TYPE_COOKIE_REPLY) {
            IndexEntry entry = device.indexTable.get(Protocol.getInt(msg, Protocol.CookieReply.RECEIVER));
            if (entry == null || !entry.peer().cookies.consumeReply(msg, 0, now)) {
                device.stats.badHandshake.increment();
            }
            return;
        }
        if (!device.cookieChecker.checkMac1(msg, 0, msg.length)) {
            device.stats.badMac1.increment();
            return;
        }
        // A spoke of an in-process hop is this process: no cookie round trip, no rate limit (Hop).
        if (!device.bind.inProcess(source) && underLoad()) {
            byte[] src = sourceBytes(source);
            if (!device.cookieChecker.checkMac2(msg, 0, msg.length, src, now)) {
                byte[] reply = new byte[Protocol.CookieReply.SIZE];
                int sender = Protocol.getInt(msg, Protocol.Initiation.SENDER);
                if (device.cookieChecker.createReply(msg, 0, msg.length, sender, src, now, reply, 0)) {
                    device.outbound.sendUnattached(reply, source);
                    device.stats.cookieRepliesSent.increment();
                }
                return;
            }
            if (!device.rateLimiter.allow(source.address())) {
                device.stats.rateLimited.increment();
                return;
            }
        }
        if (type == Protocol.TYPE_INITIATION) {
            Handshake hs = Noise.consumeInitiation(device.identity(), msg, 0, this::runningHandshake, now);
            Peer peer = hs == null ? null : device.peer(hs.remoteStatic());
            if (peer == null) {
                device.stats.badHandshake.increment();
                return;
            }
            authenticated(peer, msg.length, source);
            device.outbound.sendHandshakeResponse(peer);
        } else {
            IndexEntry entry = device.indexTable.get(Protocol.getInt(msg, Protocol.Response.RECEIVER));
            if (entry == null || entry.handshake() == null
                    || !Noise.consumeResponse(device.identity(), entry.handshake(), msg, 0)) {
                device.stats.badHandshake.increment();
                return;
            }
            Peer peer = entry.peer();
            authenticated(peer, msg.length, source);
            completeAsInitiator(peer);
        }
    }

    private static void authenticated(Peer peer, int length, Endpoint source) {
        peer.setEndpoint(source);
        peer.countReceived(length);
        peer.timers.anyAuthenticatedPacketTraversal();
        peer.timers.anyAuthenticatedPacketReceived();
    }

    /** The initiator's last step, after the response was authenticated: the session, then a keepalive to confirm it. */
    private void completeAsInitiator(Peer peer) {
        var keypair = Noise.beginSession(peer.handshake, device.clock.nanoTime());
        if (keypair == null) {
            return;
        }
        peer.installKeypair(keypair);
        peer.timers.sessionDerived();
        peer.timers.handshakeComplete();
        device.outbound.sendKeepalive(peer);
    }

    private Handshake runningHandshake(Key publicKey) {
        Peer p = device.peer(publicKey);
        return p != null && p.isRunning() ? p.handshake : null;
    }

    /** What a cookie is bound to: the source address and port, as the kernel hashes them. */
    private static byte[] sourceBytes(Endpoint e) {
        byte[] addr = e.address().getAddress();
        byte[] out = Arrays.copyOf(addr, addr.length + 2);
        out[addr.length] = (byte) (e.port() >>> 8);
        out[addr.length + 1] = (byte) e.port();
        return out;
    }
}
