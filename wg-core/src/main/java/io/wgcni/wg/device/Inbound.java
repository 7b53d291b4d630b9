package io.wgcni.wg.device;

import io.wgcni.wg.crypto.ChaChaPoly;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.Coalescer;
import io.wgcni.wg.ip.IpHeader;
import io.wgcni.wg.noise.Keypair;
import io.wgcni.wg.noise.Protocol;
import java.util.Arrays;

/**
 * The receive path, as the kernel's receive.c and wireguard-go's receive.go hold it, in the order a datagram takes:
 *
 * <ol>
 * <li>{@link #fromBind}: datagrams from the UDP bind, sorted by message type; handshake messages leave here for the
 * {@link HandshakeReceiver};
 * <li>{@link #open}: a data message's receiver index names a session; the message is opened under it in place;
 * <li>{@link #accept}: replay check, key confirmation, the padding cut off, the source address checked against the
 * peer's allowed IPs;
 * <li>per peer that sent something: the endpoint it came from, timers, {@code keepKeyFreshReceiving};
 * <li>{@link #deliver}: the opened packets of one flow coalesced into superpackets where the TUN takes them
 * ({@link Coalescer}), then written to the TUN in one call.
 * </ol>
 *
 * <p>Everything runs on the calling thread, start to finish: the device's UDP reader, typically.
 */
final class Inbound {
    /** The most datagrams one {@link #fromBind} may be handed. */
    static final int MAX_BATCH = 128;
    /** Superpackets one batch may coalesce into (each takes a 64 KiB buffer per thread). */
    static final int MAX_MERGED = 8;

    private final Device device;
    /** Shared by every device: a thread's working memory, not a device's (a poller serves hundreds of devices). */
    private static final Scratch<Lane> lanes = new Scratch<>(Lane::new);

    Inbound(Device device) {
        this.device = device;
    }

    /** Working memory of one thread's pass through the receive path. */
    private static final class Lane {
        final Packet[] deliver = new Packet[MAX_BATCH];
        final Peer[] peers = new Peer[MAX_BATCH];
        final Endpoint[] from = new Endpoint[MAX_BATCH];
        final boolean[] data = new boolean[MAX_BATCH];
        final boolean[] confirmed = new boolean[MAX_BATCH];
        int touched;
        final ChaChaPoly aead = new ChaChaPoly();
        final Coalescer coalescer = new Coalescer(MAX_BATCH, MAX_MERGED);
        final Packet[] forward = new Packet[MAX_BATCH];
        final Peer[] forwardTo = new Peer[MAX_BATCH];
        final Packet[] group = new Packet[MAX_BATCH];

        /** The index of {@code peer} among the peers this batch touched, adding it if new. */
        int touch(Peer peer) {
            for (int i = 0; i < touched; i++) {
                if (peers[i] == peer) {
                    return i;
                }
            }
            int i = touched++;
            peers[i] = peer;
            from[i] = null;
            data[i] = false;
            confirmed[i] = false;
            return i;
        }
    }

    // ---- 1. from the bind ----

    /** Handles datagrams {@code ps[0, n)} ({@code n <= MAX_BATCH}); they may be used as scratch. */
    void fromBind(Packet[] ps, int n) {
        receive(ps, n, false, true);
    }

    /**
     * Handles messages {@code ps[0, n)} a device of this process sent over an in-process {@link Hop} from {@code
     * source}, on the sender's thread; data messages are unsealed unless {@code sealed}, and may be superpackets.
     * The packets are the sender's, lent for the call.
     */
    void fromHop(Packet[] ps, int n, Endpoint source, boolean sealed) {
        for (int first = 0; first < n; first += MAX_BATCH) {
            int count = Math.min(MAX_BATCH, n - first);
            for (int i = first; i < first + count; i++) {
                ps[i].endpoint = source;
            }
            receive(first == 0 ? ps : Arrays.copyOfRange(ps, first, first + count), count, true, sealed);
        }
    }

    private void receive(Packet[] ps, int n, boolean hop, boolean sealed) {
        Lane lane = lanes.take();
        int delivered = 0;
        try {
            long now = device.clock.nanoTime();
            for (int i = 0; i < n; i++) {
                Packet p = ps[i];
                int type = hop && !sealed ? Protocol.unsealedType(p.buf, p.offset, p.length)
                        : Protocol.messageType(p.buf, p.offset, p.length);
                switch (type) {
                    case Protocol.TYPE_DATA -> {
                        if (open(p, now, hop, sealed, lane)) {
                            lane.deliver[delivered++] = p;
                        }
                    }
                    case Protocol.TYPE_INITIATION, Protocol.TYPE_RESPONSE, Protocol.TYPE_COOKIE_REPLY ->
                            device.handshakes.enqueue(p);
                    default -> device.stats.invalidMessage.increment();
                }
            }
            afterBatch(lane);
            deliver(lane, delivered);
        } finally {
            Arrays.fill(lane.deliver, 0, delivered, null);
            Arrays.fill(lane.peers, 0, lane.touched, null);
            Arrays.fill(lane.from, 0, lane.touched, null);
            lane.touched = 0;
            lanes.give(lane);
        }
    }

    // ---- 2. open ----

    /**
     * Opens a data message in place under the session its receiver index names and runs it through
     * {@link #accept}; true when it left an IP packet to deliver ({@code p} then holds it).
     */
    private boolean open(Packet p, long now, boolean hop, boolean sealed, Lane lane) {
        if (!hop && p.length > device.maxDataMessage()) {
            device.stats.oversized.increment();
            return false;
        }
        IndexEntry entry = device.indexTable.get(Protocol.getInt(p.buf, p.offset + Protocol.Data.RECEIVER));
        Keypair keypair = entry == null ? null : entry.keypair();
        if (keypair == null) {
            device.stats.unknownIndex.increment();
            return false;
        }
        Peer peer = entry.peer();
        if (!sealed && !p.endpoint.equals(peer.endpoint())) {
            // Unsealed, the index is all that names the sender: it must be the peer this hop belongs to.
            device.stats.unknownIndex.increment();
            return false;
        }
        if (!keypair.canReceive(now) || !peer.isRunning() || !keypair.acquire()) {
            device.stats.expiredKeypair.increment();
            return false;
        }
        long counter = Protocol.getLong(p.buf, p.offset + Protocol.Data.COUNTER);
        int body = p.offset + Protocol.Data.HEADER_SIZE;
        int n = p.length - Protocol.Data.HEADER_SIZE;
        if (sealed) {
            try {
                n = lane.aead.open(keypair.receiveKey(), counter, p.buf, body, n, p.buf, body, null);
            } finally {
                keypair.release();
            }
        } else {
            keypair.release();
        }
        if (n < 0) {
            device.stats.badTag.increment();
            return false;
        }
        Endpoint source = p.endpoint;
        if (hop) {
            p.offset = body; // a superpacket from the hop keeps its offload metadata
            p.length = n;
        } else {
            p.set(body, n);
        }
        return accept(peer, keypair, counter, p, source, lane);
    }

    // ---- 3. accept ----

    /** The checks after authentication, in the kernel's order; true when {@code p} is an IP packet to deliver. */
    private boolean accept(Peer peer, Keypair keypair, long counter, Packet p, Endpoint source, Lane lane) {
        if (!keypair.acceptCounter(counter)) {
            device.stats.replayed.increment();
            return false;
        }
        int t = lane.touch(peer);
        lane.from[t] = source;
        peer.countReceived(p.length + Protocol.Data.MIN_SIZE);
        Keypair[] dropped = peer.keypairs.receivedWith(keypair);
        if (dropped != null) {
            peer.releaseIndexes(dropped);
            peer.timers.handshakeComplete();
            lane.confirmed[t] = true;
        }
        if (p.length == 0) {
            return false; // a keepalive
        }
        lane.data[t] = true;
        int length = IpHeader.checkedLength(p.buf, p.offset, p.length);
        if (length < 0) {
            device.stats.invalidInnerPacket.increment();
            return false;
        }
        p.length = length;
        int version = IpHeader.version(p.buf, p.offset, length);
        if (device.allowedIps.lookup(p.buf, p.offset + IpHeader.sourceOffset(version),
                IpHeader.addressLength(version)) != peer) {
            device.stats.disallowedSource.increment();
            return false;
        }
        return true;
    }

    // ---- 4. per peer ----

    private void afterBatch(Lane lane) {
        for (int i = 0; i < lane.touched; i++) {
            Peer peer = lane.peers[i];
            if (lane.from[i] != null) {
                peer.setEndpoint(lane.from[i]);
            }
            device.outbound.keepKeyFreshReceiving(peer);
            peer.timers.anyAuthenticatedPacketTraversal();
            peer.timers.anyAuthenticatedPacketReceived();
            if (lane.data[i]) {
                peer.timers.dataReceived();
            }
            if (lane.confirmed[i]) {
                device.outbound.sendStaged(peer);
            }
        }
    }

    // ---- 5. to the TUN ----

    private void deliver(Lane lane, int count) {
        if (count == 0) {
            return;
        }
        if (device.tun.tcpOffload()) {
            count = lane.coalescer.coalesce(lane.deliver, count, lane.deliver, device.tun.udpOffload());
        }
        if (device.forwarding) {
            count = forward(lane, count);
        }
        device.writeToTun(lane.deliver, count);
    }

    /**
     * Sends the packets meant for another peer straight to it (TTL decremented, checksum updated) and keeps, in
     * {@code lane.deliver[0, returned)}, those for the TUN: not a peer's, or a TTL that runs out here, for the kernel
     * to answer with its ICMP error. What the kernel's forwarding would add is netfilter, which is why this is a
     * switch ({@link Device#setForwarding}).
     */
    private int forward(Lane lane, int count) {
        int kept = 0;
        int forwarded = 0;
        for (int i = 0; i < count; i++) {
            Packet p = lane.deliver[i];
            int version = IpHeader.version(p.buf, p.offset, p.length);
            Peer to = device.allowedIps.lookup(p.buf, p.offset + IpHeader.destinationOffset(version),
                    IpHeader.addressLength(version));
            if (to == null || !to.isRunning() || !IpHeader.decrementTtl(p.buf, p.offset, version)) {
                lane.deliver[kept++] = p;
            } else {
                lane.forward[forwarded] = p;
                lane.forwardTo[forwarded++] = to;
            }
        }
        for (int i = 0; i < forwarded; i++) {
            Peer to = lane.forwardTo[i];
            if (to == null) {
                continue;
            }
            int group = 0;
            for (int j = i; j < forwarded; j++) {
                if (lane.forwardTo[j] == to) {
                    lane.group[group++] = lane.forward[j];
                    lane.forwardTo[j] = null;
                }
            }
            device.stats.forwarded.add(group);
            device.outbound.send(to, lane.group, group);
        }
        Arrays.fill(lane.forward, 0, forwarded, null);
        Arrays.fill(lane.group, 0, forwarded, null);
        return kept;
    }
}
