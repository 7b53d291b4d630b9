package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.device.Harness.Node;
import io.wgcni.wg.noise.Keypair;
import java.util.BitSet;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Handshakes again and again, both sides at once (crossing) or one side, while packets flow both ways without pause:
 * sessions are installed, replaced and confirmed under the feet of packets being sealed and opened. Not one packet may
 * be sealed or accepted under keys that were already zeroed: a packet sealed with zeroed keys fails its tag at the
 * receiver (bad_tag), so there must be none, and every packet that arrives must be one that was sent, intact.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RekeyUnderTrafficTest {
    private static final int ROUNDS = 60;

    @Test
    void crossingInitiationsUnderTrafficNeverUseZeroedKeys() throws Throwable {
        try (Harness h = Harness.pair()) {
            h.recordWire = false;
            Node a = h.get(0);
            Node b = h.get(1);
            a.sendTo(b, 0);
            b.tun.poll(5_000);
            h.settle();
            AtomicBoolean stop = new AtomicBoolean();
            Flow ab = new Flow(a, b, stop);
            Flow ba = new Flow(b, a, stop);
            Set<Keypair> sessions = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
            for (int round = 0; round < ROUNDS; round++) {
                sessions.add(a.peer(b).currentKeypair());
                sessions.add(b.peer(a).currentKeypair());
                // Past the 1/50 s initiation rate limit and the 2^24 ns timestamp granularity.
                h.manualClock().advance(40_000_000L);
                a.peer(b).handshake.resetPacing();
                b.peer(a).handshake.resetPacing();
                // Crossing initiations leave both sides with an unconfirmed session; the single ones that follow
                // then replace a current session that packets are being sealed with.
                Peer initiator = round % 3 == 1 ? a.peer(b) : b.peer(a);
                Keypair before = initiator.currentKeypair();
                if (round % 3 != 2) {
                    a.peer(b).sendHandshakeInitiation(false);
                }
                if (round % 3 != 1) {
                    b.peer(a).sendHandshakeInitiation(false);
                }
                if (round % 3 == 0) {
                    Thread.sleep(3);
                } else {
                    // Usually a few milliseconds; a crossing round's leftovers sometimes spoil it (the protocol then
                    // waits for a retry), which is no reason to wait here.
                    long deadline = System.nanoTime() + 200_000_000L;
                    while (initiator.currentKeypair() == before && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                }
            }
            stop.set(true);
            ab.join();
            ba.join();
            h.settle();
            for (Node n : h.nodes) {
                assertEquals(0, n.device.stats().badTag.sum(),
                        "a packet sealed under zeroed keys: " + n.device.stats().snapshot());
                assertEquals(0, n.device.stats().internalErrors.sum());
            }
            assertTrue(sessions.size() > ROUNDS / 3, "sessions changed all along: " + sessions.size() + "; " + ab
                    + "; " + ba);
            assertTrue(ab.received() > 1000 && ba.received() > 1000, ab + "; " + ba);
            for (Flow f : new Flow[] {ab, ba}) {
                // Every packet arrived or was counted as dropped, but for those still staged for a handshake. The
                // drops may include the keepalive that confirms each handshake, at most two a round.
                assertTrue(f.inFlight() >= -2 * ROUNDS && f.inFlight() <= Peer.MAX_STAGED, f.toString());
            }
        }
    }

    /** Sends numbered packets from one node and checks what arrives at the other. */
    private static final class Flow {
        private static final int WINDOW = 2000;
        private final Node from;
        private final Node to;
        private final Thread sender;
        private final Thread receiver;
        private final AtomicInteger received = new AtomicInteger();
        private final AtomicInteger sent = new AtomicInteger();
        private final BitSet seen = new BitSet();
        private final java.util.concurrent.atomic.AtomicReference<Throwable> failure =
                new java.util.concurrent.atomic.AtomicReference<>();

        Flow(Node from, Node to, AtomicBoolean stop) {
            this.from = from;
            this.to = to;
            sender = Thread.ofPlatform().start(() -> {
                for (int seq = 1; !stop.get(); seq++) {
                    from.sendTo(to, seq);
                    sent.set(seq);
                    if (seq % 64 == 0) {
                        while (inFlight() > WINDOW && !stop.get()) {
                            Thread.onSpinWait(); // keep the in-memory queues short
                        }
                    }
                }
            });
            receiver = Thread.ofPlatform().start(() -> {
                try {
                    while (true) {
                        byte[] p = to.tun.poll(stop.get() ? 500 : 5_000);
                        if (p == null) {
                            return;
                        }
                        int seq = IpPackets.seq(p);
                        assertArrayEquals(IpPackets.packet(from.inner, to.inner, seq, 64), p, "intact");
                        synchronized (seen) {
                            assertTrue(!seen.get(seq), "delivered once");
                            seen.set(seq);
                        }
                        received.incrementAndGet();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
        }

        void join() throws Throwable {
            sender.join();
            receiver.join();
            if (failure.get() != null) {
                throw failure.get();
            }
        }

        int received() {
            return received.get();
        }

        /**
         * This flow's packets that were dropped, and counted: staged at the sender while it had no session and pushed
         * out by newer ones, or sealed under a session the receiver had already replaced. Both are allowed in a rekey;
         * each node has only this flow's packets to send and receive, so the counters are the flow's. A window that
         * counted only arrivals would close for good after its size in such drops, and the flow would stop.
         */
        long dropped() {
            return from.device.stats().queueFull.sum() + to.device.stats().unknownIndex.sum()
                    + to.device.stats().expiredKeypair.sum() + to.device.stats().replayed.sum();
        }

        /** Sent and neither received nor dropped: still in a queue, or staged. */
        long inFlight() {
            return sent.get() - received.get() - dropped();
        }

        @Override
        public String toString() {
            return "received " + received.get() + " of " + sent.get() + ", dropped " + dropped();
        }
    }
}
