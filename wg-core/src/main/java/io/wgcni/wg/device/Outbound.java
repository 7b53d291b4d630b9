package io.wgcni.wg.device;

import static io.wgcni.wg.noise.Protocol.KEEPALIVE_TIMEOUT;
import static io.wgcni.wg.noise.Protocol.REJECT_AFTER_TIME;
import static io.wgcni.wg.noise.Protocol.REKEY_AFTER_MESSAGES;
import static io.wgcni.wg.noise.Protocol.REKEY_AFTER_TIME;
import static io.wgcni.wg.noise.Protocol.REKEY_TIMEOUT;

import io.wgcni.wg.crypto.ChaChaPoly;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.IpHeader;
import io.wgcni.wg.ip.Segmenter;
import io.wgcni.wg.noise.Keypair;
import io.wgcni.wg.noise.Noise;
import io.wgcni.wg.noise.Protocol;
import io.wgcni.wg.noise.StaticIdentity;
import java.util.Arrays;

/**
 * The send path, as the kernel's send.c and wireguard-go's send.go hold it, in the order a packet takes:
 *
 * <ol>
 * <li>{@link #fromTun}: IP packets read from the TUN, each routed to a peer by its destination (allowed IPs);
 * <li>{@link #send}: per peer, superpackets cut into packets ({@link Segmenter}), partial checksums finished;
 * <li>{@link #transmit}: a train of up to {@link #TRAIN} packets sealed under the current session, or staged
 * while there is none (a handshake is started), then sent to the peer's endpoint in one call, which the UDP bind
 * turns into one GSO send;
 * <li>the timers of a sent packet, and {@link #keepKeyFreshSending}.
 * </ol>
 * Then the messages that are not data: {@link #sendKeepalive}, {@link #sendStaged}, {@link #sendHandshakeInitiation},
 * {@link #sendHandshakeResponse}.
 *
 * <p>Everything runs on the calling thread, start to finish (run to completion): the TUN reader, or whichever thread
 * completes a handshake or fires a timer. Two threads may send to one peer at once; each keeps its own packets in
 * order, and the counters they take never repeat.
 */
final class Outbound {
    /** Packets per send: the kernel's UDP_MAX_SEGMENTS before Linux 6.9, the most one GSO send may carry. */
    static final int TRAIN = 64;
    /** The most packets one {@link #fromTun} may be handed. */
    static final int MAX_READ = 128;

    private final Device device;
    /** Shared by every device: a thread's working memory, not a device's (a poller serves hundreds of devices). */
    private static final Scratch<Lane> lanes = new Scratch<>(Lane::new);

    Outbound(Device device) {
        this.device = device;
    }

    /** Working memory of one thread's pass through the send path. */
    private static final class Lane {
        final Peer[] route = new Peer[MAX_READ];
        final Packet[] group = new Packet[MAX_READ];
        final Packet[] segments = new Packet[TRAIN];
        final Packet[] train = new Packet[TRAIN];
        final Packet keepalive = new Packet();
        final ChaChaPoly aead = new ChaChaPoly();

        Lane() {
            for (int i = 0; i < TRAIN; i++) {
                segments[i] = new Packet();
            }
        }
    }

    // ---- 1. from the TUN ----

    /** Sends packets {@code ps[0, n)} read from the TUN ({@code n <= MAX_READ}); they may be used as scratch. */
    void fromTun(Packet[] ps, int n) {
        Lane lane = lanes.take();
        try {
            for (int i = 0; i < n; i++) {
                lane.route[i] = route(ps[i]);
            }
            // Per peer, in the order of each peer's first packet; almost always one peer per read.
            for (int i = 0; i < n; i++) {
                Peer peer = lane.route[i];
                if (peer == null) {
                    continue;
                }
                int count = 0;
                for (int j = i; j < n; j++) {
                    if (lane.route[j] == peer) {
                        lane.group[count++] = ps[j];
                        lane.route[j] = null;
                    }
                }
                send(peer, lane.group, count, lane);
            }
        } finally {
            Arrays.fill(lane.group, 0, n, null);
            lanes.give(lane);
        }
    }

    /** The peer whose allowed IPs hold the packet's destination; null (counted) when there is none or no IP. */
    private Peer route(Packet p) {
        int version = IpHeader.version(p.buf, p.offset, p.length);
        if (version == 0) {
            device.stats.invalidInnerPacket.increment();
            return null;
        }
        Peer peer = device.allowedIps.lookup(p.buf, p.offset + IpHeader.destinationOffset(version),
                IpHeader.addressLength(version));
        if (peer == null || !peer.isRunning()) {
            device.stats.noRoute.increment();
            return null;
        }
        return peer;
    }

    // ---- 2. per peer: cut superpackets, finish checksums ----

    /** Sends IP packets (plain or superpackets) to {@code peer}, in order. */
    void send(Peer peer, Packet[] ps, int count) {
        Lane lane = lanes.take();
        try {
            send(peer, ps, count, lane);
        } finally {
            lanes.give(lane);
        }
    }

    private void send(Peer peer, Packet[] ps, int count, Lane lane) {
        // Inside the process there is no wire to cut for: superpackets go whole, checksums stay unfinished (Hop).
        boolean whole = device.bind.inProcess(peer.endpoint());
        int train = 0;
        for (int i = 0; i < count; i++) {
            Packet p = ps[i];
            if (whole) {
                lane.train[train++] = p;
            } else if (p.gso != Packet.GSO_NONE) {
                int total = Segmenter.segments(p);
                if (total == Segmenter.MALFORMED) {
                    device.stats.invalidInnerPacket.increment();
                    continue;
                }
                // Segments live in the lane's own buffers: send what waits first, so they are free.
                transmit(peer, lane.train, train, false, lane);
                train = 0;
                for (int first = 0; first < total; first += TRAIN) {
                    transmit(peer, lane.segments, Segmenter.split(p, first, lane.segments, 0, TRAIN), false, lane);
                }
                continue;
            } else if (p.partialChecksum && !Segmenter.finishChecksum(p)) {
                device.stats.invalidInnerPacket.increment();
                continue;
            } else {
                lane.train[train++] = p;
            }
            if (train == TRAIN) {
                transmit(peer, lane.train, train, false, lane);
                train = 0;
            }
        }
        transmit(peer, lane.train, train, false, lane);
    }

    // ---- 3. seal and send, or stage ----

    /**
     * Seals {@code ps[0, count)} (plain IP packets or keepalives, each at an offset with room for the header in
     * front and padding and tag behind) under the peer's current session and sends them in one call. Without a
     * usable session they are staged (copied; or put back, when {@code fromStage}) and a handshake begins. False
     * when nothing was sent.
     */
    private boolean transmit(Peer peer, Packet[] ps, int count, boolean fromStage, Lane lane) {
        if (count == 0) {
            return true;
        }
        if (!peer.isRunning()) {
            return false;
        }
        if (!fromStage && peer.hasStaged()) {
            // Older packets wait for a session: these go behind them.
            stageAll(peer, ps, count);
            sendStaged(peer);
            return false;
        }
        long now = device.clock.nanoTime();
        Endpoint to = peer.endpoint();
        boolean seal = !device.bind.inProcess(to) || device.bind.sealsInProcess();
        Keypair keypair = peer.keypairs.current();
        long first = -1;
        if (keypair != null && keypair.acquire()) {
            try {
                first = keypair.nextSendCounters(now, count);
                if (first >= 0 && seal) {
                    seal(lane.aead, keypair, first, ps, count);
                } else if (first >= 0) {
                    frame(keypair, first, ps, count);
                }
            } finally {
                keypair.release();
            }
        }
        if (first < 0) {
            if (fromStage) {
                peer.unstage(ps, 0, count);
            } else {
                stageAll(peer, ps, count);
            }
            Keypair fresh = peer.keypairs.current();
            if (fresh != keypair && fresh != null && fresh.canSend(device.clock.nanoTime())) {
                // A handshake completed while these were being staged, and may have looked at the queue before
                // they were in it: send them now rather than when the next packet comes.
                if (!fromStage) {
                    sendStaged(peer);
                }
                return false;
            }
            sendHandshakeInitiation(peer, false);
            return false;
        }
        boolean data = false;
        long bytes = 0;
        for (int i = 0; i < count; i++) {
            data |= ps[i].length > Protocol.Data.MIN_SIZE;
            bytes += ps[i].length;
        }
        peer.timers.anyAuthenticatedPacketTraversal();
        peer.timers.anyAuthenticatedPacketSent();
        // Counted before the send: an in-process bind delivers (and the far end may answer) before it returns,
        // and whoever sees the packet arrive must also see it counted. Taken back if the send fails.
        peer.countSent(bytes);
        if (device.send(ps, count, to)) {
            if (data) {
                peer.timers.dataSent();
            }
        } else {
            peer.countSent(-bytes);
        }
        keepKeyFreshSending(peer, now);
        return true;
    }

    private static void stageAll(Peer peer, Packet[] ps, int count) {
        for (int i = 0; i < count; i++) {
            peer.stage(ps[i]);
        }
    }

    /**
     * Turns each IP packet into a data message in place: padded with zeros to a multiple of 16 (never past the MTU),
     * encrypted with counter {@code first + i}, header in front. Both ends of the buffer have room for this.
     */
    private void seal(ChaChaPoly aead, Keypair keypair, long first, Packet[] ps, int count) {
        int mtu = device.tun.mtu();
        for (int i = 0; i < count; i++) {
            Packet p = ps[i];
            long counter = first + i;
            int len = p.length;
            int padded = len + paddingSize(len, mtu);
            p.ensureCapacity(p.offset + padded + Protocol.TAG_LENGTH);
            Arrays.fill(p.buf, p.offset + len, p.offset + padded, (byte) 0);
            int header = p.offset - Protocol.Data.HEADER_SIZE;
            Protocol.putInt(p.buf, header, Protocol.TYPE_DATA);
            Protocol.putInt(p.buf, header + Protocol.Data.RECEIVER, keypair.remoteIndex());
            Protocol.putLong(p.buf, header + Protocol.Data.COUNTER, counter);
            int sealed = aead.seal(keypair.sendKey(), counter, p.buf, p.offset, padded, p.buf, p.offset, null);
            // Offsets only: a superpacket sealed for an in-process hop keeps its offload metadata.
            p.offset = header;
            p.length = Protocol.Data.HEADER_SIZE + sealed;
        }
    }

    /**
     * Turns each IP packet into an unsealed data message in place, for an in-process hop ({@link Hop}): the header in
     * front, with counter {@code first + i}, and the packet as it is behind it, offload metadata kept.
     */
    private static void frame(Keypair keypair, long first, Packet[] ps, int count) {
        for (int i = 0; i < count; i++) {
            Packet p = ps[i];
            int header = p.offset - Protocol.Data.HEADER_SIZE;
            Protocol.putInt(p.buf, header, Protocol.TYPE_DATA);
            Protocol.putInt(p.buf, header + Protocol.Data.RECEIVER, keypair.remoteIndex());
            Protocol.putLong(p.buf, header + Protocol.Data.COUNTER, first + i);
            p.offset = header;
            p.length += Protocol.Data.HEADER_SIZE;
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

    // ---- 4. after sending ----

    /** Rekeys after REKEY_AFTER_MESSAGES, or, as initiator, after REKEY_AFTER_TIME (send.c keep_key_fresh). */
    private void keepKeyFreshSending(Peer peer, long now) {
        Keypair k = peer.keypairs.current();
        if (k != null && k.isValid() && (Long.compareUnsigned(k.sentMessages(), REKEY_AFTER_MESSAGES) > 0
                || (k.isInitiator() && now - k.created() >= REKEY_AFTER_TIME))) {
            sendHandshakeInitiation(peer, false);
        }
    }

    /**
     * The initiator, as long as it only receives, rekeys once shortly before REJECT_AFTER_TIME, so that the sessions
     * of a peer that never sends do not expire under its feet (receive.c keep_key_fresh).
     */
    void keepKeyFreshReceiving(Peer peer) {
        Keypair k = peer.keypairs.current();
        if (k != null && k.isValid() && k.isInitiator()
                && device.clock.nanoTime() - k.created() >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT
                && peer.timers.claimLastMinuteHandshake()) {
            sendHandshakeInitiation(peer, false);
        }
    }

    // ---- messages that are not from the TUN ----

    /** A keepalive is an empty data message; sent only when nothing else is waiting to go (which would do too). */
    void sendKeepalive(Peer peer) {
        if (peer.hasStaged()) {
            sendStaged(peer);
            return;
        }
        Lane lane = lanes.take();
        try {
            Packet k = lane.keepalive;
            k.set(Packet.HEADROOM, 0);
            lane.train[0] = k;
            transmit(peer, lane.train, 1, false, lane);
        } finally {
            lanes.give(lane);
        }
    }

    /** Sends what waited for a session (a handshake just completed), oldest first; stops when it cannot. */
    void sendStaged(Peer peer) {
        Lane lane = lanes.take();
        try {
            for (int n; (n = peer.takeStaged(lane.train, TRAIN)) > 0; ) {
                if (!transmit(peer, lane.train, n, true, lane)) {
                    return;
                }
            }
        } finally {
            Arrays.fill(lane.train, null);
            lanes.give(lane);
        }
    }

    /** Sends an initiation unless one went out less than REKEY_TIMEOUT ago. */
    void sendHandshakeInitiation(Peer peer, boolean retry) {
        if (!peer.isRunning()) {
            return;
        }
        if (!retry) {
            peer.timers.resetHandshakeAttempts();
        }
        long now = device.clock.nanoTime();
        StaticIdentity local = device.identity();
        if (local == null || !peer.handshake.claimInitiationSlot(now)) {
            return;
        }
        byte[] msg = new byte[Protocol.Initiation.SIZE];
        synchronized (peer.handshake) {
            peer.releaseHandshakeIndex();
            int index = device.indexTable.add(new IndexEntry(peer, peer.handshake, null));
            if (!Noise.createInitiation(local, peer.handshake, index, device.clock.epochNanos(), msg, 0)) {
                device.indexTable.remove(index);
                return;
            }
        }
        peer.cookies.addMacs(msg, 0, msg.length, now);
        peer.timers.anyAuthenticatedPacketTraversal();
        peer.timers.anyAuthenticatedPacketSent();
        // Armed before the send (the kernel arms it after): the response may be consumed, and the timer disarmed by
        // handshakeComplete, before the send returns (a descheduled sender, or an in-process hop, which delivers on
        // the sending thread); armed after, it would then retransmit a handshake that had already completed.
        peer.timers.handshakeInitiated();
        sendHandshakeMessage(peer, msg);
    }

    /** Answers the initiation just consumed into the peer's handshake, and starts the new session. */
    void sendHandshakeResponse(Peer peer) {
        long now = device.clock.nanoTime();
        byte[] msg = new byte[Protocol.Response.SIZE];
        Keypair keypair;
        synchronized (peer.handshake) {
            peer.releaseHandshakeIndex();
            int index = device.indexTable.add(new IndexEntry(peer, peer.handshake, null));
            if (!Noise.createResponse(peer.handshake, index, now, msg, 0)) {
                device.indexTable.remove(index);
                return;
            }
            keypair = Noise.beginSession(peer.handshake, now);
        }
        peer.cookies.addMacs(msg, 0, msg.length, now);
        peer.installKeypair(keypair);
        peer.timers.sessionDerived();
        peer.timers.anyAuthenticatedPacketTraversal();
        peer.timers.anyAuthenticatedPacketSent();
        sendHandshakeMessage(peer, msg);
    }

    private void sendHandshakeMessage(Peer peer, byte[] msg) {
        peer.countSent(msg.length); // before the send, as in send(): an in-process bind delivers inline
        if (!device.send(new Packet[] {new Packet(msg)}, 1, peer.endpoint())) {
            peer.countSent(-msg.length);
        }
    }

    /** Sends a message that belongs to no peer (a cookie reply) to {@code to}. */
    void sendUnattached(byte[] msg, Endpoint to) {
        device.send(new Packet[] {new Packet(msg)}, 1, to);
    }
}
