package io.wgcni.wg.device;

import static io.wgcni.wg.device.Harness.eventually;
import static io.wgcni.wg.device.IpPackets.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Harness.Node;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.noise.Keypair;
import io.wgcni.wg.noise.Protocol;
import io.wgcni.wg.time.ManualClock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DeviceTest {
    private static final long SECOND = 1_000_000_000L;

    /** Sends one packet and returns it as it arrived, once both devices are done with all it set off. */
    private static byte[] roundTrip(Node from, Node to, int seq) throws InterruptedException {
        from.sendTo(to, seq);
        byte[] got = to.tun.poll(5_000);
        from.harness().settle();
        return got;
    }

    @Test
    void handshakeThenDataBothWays() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            byte[] got = roundTrip(a, b, 1);
            assertNotNull(got, "A's packet reaches B");
            assertEquals(1, IpPackets.seq(got));
            assertArrayEquals(IpPackets.packet(a.inner, b.inner, 1, 64), got);
            got = roundTrip(b, a, 2);
            assertNotNull(got, "B's packet reaches A");
            assertEquals(2, IpPackets.seq(got));
            assertEquals(1, h.count(a, Protocol.TYPE_INITIATION));
            assertEquals(1, h.count(b, Protocol.TYPE_RESPONSE));
            assertTrue(a.peer(b).lastHandshakeEpochNanos() > 0);
            assertTrue(b.peer(a).lastHandshakeEpochNanos() > 0, "B confirmed the session on A's first data");
            assertTrue(a.peer(b).txBytes() > 0 && a.peer(b).rxBytes() > 0);
            assertEquals(0, a.device.stats().receiveDrops());
            assertEquals(0, b.device.stats().receiveDrops());
        }
    }

    /**
     * An in-process bind (the container hop) delivers before its send returns, so a peer's tx counter must already
     * hold a datagram when the datagram leaves: HopTest once saw a reply arrive before the hub had counted it.
     */
    /**
     * A removed peer leaves nothing scheduled: the 30-minute soak found node-manager holding every detached
     * container's device for minutes, through timer tasks that were disarmed but still queued.
     */
    @Test
    void aRemovedPeerLeavesNoTimerTaskBehind() throws Exception {
        try (Harness h = new Harness()) {
            Node a = h.node();
            Node b = h.node();
            int baseline = h.manualClock().pending();
            a.connect(b, true);
            b.connect(a, true);
            assertNotNull(roundTrip(a, b, 1), "a session, so that every timer of both peers has been armed");
            assertNotNull(roundTrip(b, a, 2));
            h.settle();
            assertTrue(h.manualClock().pending() > baseline, "the peers' timers are armed");
            a.device.removePeer(b.publicKey);
            b.device.removePeer(a.publicKey);
            assertEquals(baseline, h.manualClock().pending(), "nothing of the removed peers is left scheduled");
        }
    }

    @Test
    void bytesAreCountedBeforeTheyLeave() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            Map<Endpoint, Peer> senders = Map.of(a.endpoint(), a.peer(b), b.endpoint(), b.peer(a));
            Map<Endpoint, LongAdder> left = new ConcurrentHashMap<>();
            AtomicInteger uncounted = new AtomicInteger();
            h.conditioner = (d, link) -> {
                LongAdder before = left.computeIfAbsent(d.from(), k -> new LongAdder());
                if (senders.get(d.from()).txBytes() < before.sum() + d.bytes().length) {
                    uncounted.incrementAndGet();
                }
                before.add(d.bytes().length);
                link.deliver(d);
            };
            assertNotNull(roundTrip(a, b, 1));
            assertNotNull(roundTrip(b, a, 2));
            assertEquals(0, uncounted.get(), "every datagram was in tx_bytes when it left");
        }
    }

    @Test
    void ipv6InsideTheTunnel() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            a.device.addAllowedIp(a.peer(b), Prefix.parse("fd00::2/128"));
            b.device.addAllowedIp(b.peer(a), Prefix.parse("fd00::1/128"));
            a.tun.inject(IpPackets.packet(ip("fd00::1"), ip("fd00::2"), 7, 100));
            byte[] got = b.tun.poll(5_000);
            assertNotNull(got);
            assertEquals(7, IpPackets.seq(got));
            assertEquals(0x60, got[0] & 0xf0);
        }
    }

    @Test
    void responderConfirmsSessionOnFirstDataMessage() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            a.sendTo(b, 1);
            assertNotNull(b.tun.poll(5_000));
            assertTrue(eventually(() -> b.peer(a).currentKeypair() != null));
            Keypair bCurrent = b.peer(a).currentKeypair();
            assertFalse(bCurrent.isInitiator());
            assertEquals(a.peer(b).currentKeypair().remoteIndex(), bCurrent.localIndex());
        }
    }

    @Test
    void rekeyAfterRekeyAfterTimeWithTrafficFlowing() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(a, b, 1));
            Keypair first = a.peer(b).currentKeypair();
            long rx = a.peer(b).rxBytes();
            h.advance(Protocol.KEEPALIVE_TIMEOUT + SECOND);
            assertTrue(eventually(() -> a.peer(b).rxBytes() > rx), "B's keepalive reached A");
            h.settle();
            h.advance(Protocol.REKEY_AFTER_TIME);
            assertSame(first, a.peer(b).currentKeypair(), "the keepalive kept the session; no rekey before traffic");
            // The first packet after REKEY_AFTER_TIME still goes out with the old session and asks for a new one.
            assertNotNull(roundTrip(a, b, 2));
            assertTrue(eventually(() -> a.peer(b).currentKeypair() != first), "initiator rekeyed");
            assertNotNull(roundTrip(a, b, 3));
            assertNotNull(roundTrip(b, a, 4));
            assertEquals(0, a.device.stats().receiveDrops() + b.device.stats().receiveDrops());
        }
    }

    @Test
    void aResponseBackBeforeTheInitiationsSendReturnsLeavesNoRetransmitArmed() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            // The response is consumed before the initiation's send returns, as on an in-process hop (which delivers
            // on the sending thread) or when the sending thread is descheduled: one CI run in many.
            h.conditioner = (d, link) -> {
                link.deliver(d);
                if (d.from().equals(a.endpoint())
                        && Protocol.messageType(d.bytes(), 0, d.bytes().length) == Protocol.TYPE_INITIATION) {
                    eventually(() -> a.peer(b).currentKeypair() != null); // A has consumed B's response
                }
            };
            assertNotNull(roundTrip(a, b, 1));
            h.conditioner = null;
            h.advance(Protocol.REKEY_TIMEOUT + Protocol.REKEY_TIMEOUT_JITTER_MAX + SECOND);
            assertEquals(1, h.count(a, Protocol.TYPE_INITIATION),
                    "a retransmit armed after the handshake had completed sent a second initiation");
        }
    }

    @Test
    void rekeyAfterRekeyAfterMessages() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(b, a, 1), "B initiates, so A is the responder");
            assertNotNull(roundTrip(a, b, 2));
            h.settle(); // A's bookkeeping after sending packet 2 runs on its own threads
            Keypair first = a.peer(b).currentKeypair();
            assertFalse(first.isInitiator(), "message-count rekeys apply to responders too");
            first.skipSendCounter(Protocol.REKEY_AFTER_MESSAGES + 1);
            // A's response went out just now, and handshakes are at least REKEY_TIMEOUT apart.
            h.advance(Protocol.REKEY_TIMEOUT + SECOND);
            assertNotNull(roundTrip(a, b, 3), "the old session still sends up to REJECT_AFTER_MESSAGES");
            assertTrue(eventually(() -> a.peer(b).currentKeypair() != first), () -> "A started a new handshake: init A="
                + h.count(a, Protocol.TYPE_INITIATION) + " B=" + h.count(b, Protocol.TYPE_INITIATION) + " resp A="
                + h.count(a, Protocol.TYPE_RESPONSE) + " B=" + h.count(b, Protocol.TYPE_RESPONSE) + " "
                + a.device.stats().snapshot() + b.device.stats().snapshot());
            assertNotNull(roundTrip(a, b, 4));
        }
    }

    @Test
    void keyMaterialIsErasedAfterThreeRejectAfterTimesOfSilence() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(a, b, 1));
            Keypair session = a.peer(b).currentKeypair();
            h.conditioner = (d, link) -> { };
            h.advance(3 * Protocol.REJECT_AFTER_TIME - 10 * SECOND);
            assertSame(session, a.peer(b).currentKeypair(), "not yet");
            h.advance(20 * SECOND);
            assertNull(a.peer(b).currentKeypair(), "sessions erased");
            assertFalse(session.isValid());
            assertTrue(eventually(() -> b.peer(a).currentKeypair() == null), "on both sides");
            h.conditioner = null;
            assertNotNull(roundTrip(a, b, 2), "and a new handshake starts from nothing");
        }
    }

    @Test
    void initiatorRekeysAtTheLastMinuteWhenOnlyReceiving() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(a, b, 1));
            Keypair first = a.peer(b).currentKeypair();
            // B's keepalive must reach A before A's "no reply to data" timer (15 s) would start a handshake.
            long rx = a.peer(b).rxBytes();
            h.advance(Protocol.KEEPALIVE_TIMEOUT + SECOND);
            assertTrue(eventually(() -> a.peer(b).rxBytes() > rx), "B's keepalive reached A");
            h.settle();
            // REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT: A, the initiator, only receives from now on.
            h.advance(Protocol.REJECT_AFTER_TIME - 2 * Protocol.KEEPALIVE_TIMEOUT - Protocol.REKEY_TIMEOUT
                - SECOND);
            assertSame(first, a.peer(b).currentKeypair(), "no handshake in between");
            long initiations = h.count(a, Protocol.TYPE_INITIATION);
            assertNotNull(roundTrip(b, a, 2));
            assertTrue(eventually(() -> h.count(a, Protocol.TYPE_INITIATION) == initiations + 1),
                "receiving on a session about to expire makes the initiator rekey");
            assertTrue(eventually(() -> a.peer(b).currentKeypair() != first));
        }
    }

    @Test
    void sessionsAreRejectedAfterRejectAfterTime() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            ManualClock clock = h.manualClock();
            assertNotNull(roundTrip(a, b, 1));
            Keypair old = a.peer(b).currentKeypair();
            byte[] captured = h.wire.stream()
                .filter(d -> d.from().equals(a.endpoint()) && d.bytes()[0] == Protocol.TYPE_DATA
                    && d.bytes().length > 32)
                .reduce((x, y) -> y).orElseThrow().bytes();
            // Nothing is sent for three minutes: silence everyone's timers by dropping their keepalives.
            h.conditioner = (d, link) -> { };
            h.advance(Protocol.REJECT_AFTER_TIME + SECOND);
            h.conditioner = null;
            assertFalse(old.canSend(clock.nanoTime()), "the old session may no longer send");
            long expiredBefore = b.device.stats().expiredKeypair.sum() + b.device.stats().unknownIndex.sum();
            h.network.inject(captured, a.endpoint(), b.endpoint());
            assertTrue(eventually(() -> b.device.stats().expiredKeypair.sum() + b.device.stats().unknownIndex.sum()
                > expiredBefore), "B rejects a message under the expired session");
            assertNull(b.tun.poll(200));
            assertNotNull(roundTrip(a, b, 2), "a new handshake carries the next packet");
            assertNotSame(old, a.peer(b).currentKeypair());
        }
    }

    @Test
    void retransmitsEveryRekeyTimeoutThenGivesUp() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            ManualClock clock = h.manualClock();
            h.conditioner = (d, link) -> { }; // B never hears anything
            a.sendTo(b, 1);
            assertTrue(eventually(() -> h.count(a, Protocol.TYPE_INITIATION) == 1));
            h.advance(Protocol.REKEY_TIMEOUT + Protocol.REKEY_TIMEOUT_JITTER_MAX);
            assertEquals(2, h.count(a, Protocol.TYPE_INITIATION), "one retry after REKEY_TIMEOUT + jitter");
            for (int i = 0; i < 30; i++) {
                h.advance(Protocol.REKEY_TIMEOUT + Protocol.REKEY_TIMEOUT_JITTER_MAX);
            }
            // The kernel's rule: the first initiation and MAX_TIMER_HANDSHAKES + 1 retries, then silence.
            assertEquals(Protocol.MAX_TIMER_HANDSHAKES + 2, h.count(a, Protocol.TYPE_INITIATION));
        }
    }

    @Test
    void keepaliveAfterReceivingWithoutSending() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(a, b, 1));
            h.settle();
            long before = h.keepalives(b);
            h.advance(Protocol.KEEPALIVE_TIMEOUT + SECOND);
            assertTrue(eventually(() -> h.keepalives(b) == before + 1), "B answers A's data with a keepalive");
        }
    }

    @Test
    void persistentKeepaliveKeepsTheSessionWarm() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            a.peer(b).setPersistentKeepaliveInterval(25);
            // Turning it on sends a keepalive at once, which needs a handshake first.
            assertTrue(eventually(() -> h.keepalives(a) >= 1));
            h.settle();
            long before = h.keepalives(a);
            for (int i = 1; i <= 4; i++) {
                h.advance(25 * SECOND);
                long expected = before + i;
                assertTrue(eventually(() -> h.keepalives(a) >= expected), "a keepalive every 25 s");
            }
        }
    }

    @Test
    void cookieReplyUnderLoadThenHandshakeWithMac2() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            b.device.handshakes.forceUnderLoad = true;
            a.sendTo(b, 1);
            assertTrue(eventually(() -> h.count(b, Protocol.TYPE_COOKIE_REPLY) == 1), "B answers with a cookie");
            assertTrue(eventually(() -> b.device.stats().cookieRepliesSent.sum() == 1));
            h.settle();
            assertEquals(0, h.count(b, Protocol.TYPE_RESPONSE), "no response without a valid MAC2");
            h.advance(Protocol.REKEY_TIMEOUT + Protocol.REKEY_TIMEOUT_JITTER_MAX);
            assertTrue(eventually(() -> h.count(b, Protocol.TYPE_RESPONSE) == 1), "the retry carries MAC2");
            assertNotNull(b.tun.poll(5_000), "the staged packet follows the handshake");
        }
    }

    @Test
    void presharedKeyMustMatch() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            Key psk = X25519.generatePrivateKey();
            a.peer(b).setPresharedKey(psk);
            b.peer(a).setPresharedKey(psk);
            assertNotNull(roundTrip(a, b, 1), "same preshared key: works");
            assertEquals(psk, a.peer(b).presharedKey());
        }
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            a.peer(b).setPresharedKey(X25519.generatePrivateKey());
            a.sendTo(b, 1);
            assertTrue(eventually(() -> a.device.stats().badHandshake.sum() == 1), "A cannot open B's response");
            assertNull(b.tun.poll(200));
        }
    }

    @Test
    void endpointRoamsToTheSourceOfAuthenticatedPackets() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(a, b, 1));
            b.bind.moveTo(ip("10.0.9.9"));
            assertNotNull(roundTrip(b, a, 2));
            assertEquals(ip("10.0.9.9"), a.peer(b).endpoint().address(), "A follows B to its new address");
            assertNotNull(roundTrip(a, b, 3), "and A's packets reach B there");
        }
    }

    @Test
    void responderWithoutEndpointLearnsIt() throws Exception {
        Harness h = new Harness();
        try (h) {
            Node a = h.node();
            Node b = h.node();
            a.connect(b, true);
            b.connect(a, false);
            assertNotNull(roundTrip(a, b, 1));
            assertEquals(a.endpoint(), b.peer(a).endpoint());
            assertNotNull(roundTrip(b, a, 2));
        }
    }

    @Test
    void packetsFromAddressesNotAllowedForThePeerAreDropped() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(a, b, 1));
            // A routes 192.168.0.99 to B, but B does not accept that source from A.
            a.device.addAllowedIp(a.peer(b), Prefix.parse("192.168.0.99/32"));
            b.device.addAllowedIp(b.peer(a), Prefix.parse("192.168.0.99/32"));
            b.device.removeAllowedIp(b.peer(a), Prefix.parse("192.168.0.99/32"));
            a.tun.inject(IpPackets.packet(ip("192.168.0.50"), b.inner, 5, 64));
            assertTrue(eventually(() -> b.device.stats().disallowedSource.sum() == 1));
            assertNull(b.tun.poll(100));
            assertNotNull(roundTrip(a, b, 6), "the tunnel still works");
        }
    }

    @Test
    void peersComeAndGoWhileTrafficFlows() throws Exception {
        try (Harness h = new Harness()) {
            Node a = h.node();
            Node b = h.node();
            Node c = h.node();
            a.connect(b, true);
            b.connect(a, true);
            a.connect(c, true);
            c.connect(a, true);
            assertNotNull(roundTrip(a, b, 1));
            assertNotNull(roundTrip(a, c, 2));
            assertTrue(a.device.removePeer(c.publicKey));
            assertFalse(a.device.removePeer(c.publicKey));
            assertTrue(a.device.allowedIps.prefixes(a.peer(b)).contains(new Prefix(b.inner, 32)));
            a.sendTo(c, 3);
            assertNull(c.tun.poll(200), "no route to a removed peer");
            for (int i = 0; i < 100; i++) {
                a.sendTo(b, 100 + i);
            }
            for (int i = 0; i < 100; i++) {
                assertNotNull(b.tun.poll(5_000));
            }
            // C remembers A's last timestamp: A's next initiation must be later than TAI64N's 16 ms grain.
            h.advance(SECOND);
            a.connect(c, true);
            assertNotNull(roundTrip(a, c, 4), "a re-added peer handshakes again");
        }
    }

    @Test
    void changingThePrivateKeyForcesNewHandshakes() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(a, b, 1));
            Key newKey = X25519.generatePrivateKey();
            a.device.setPrivateKey(newKey);
            Peer bSeesA = b.device.addPeer(X25519.publicKey(newKey));
            b.device.removePeer(a.publicKey);
            b.device.addAllowedIp(bSeesA, new Prefix(a.inner, 32));
            assertNotNull(roundTrip(a, b, 2));
            assertSame(bSeesA, b.device.peer(X25519.publicKey(newKey)));
        }
    }

    @Test
    void aRotatedKeyLeavesTheNewHandshakeToThePeerSoNoInitiationsCross() throws Exception {
        try (Harness h = Harness.pair()) {
            Node a = h.get(0);
            Node b = h.get(1);
            assertNotNull(roundTrip(a, b, 1));
            long initiationsOfA = h.count(a, Protocol.TYPE_INITIATION);
            long initiationsOfB = h.count(b, Protocol.TYPE_INITIATION);
            Key newKey = X25519.generatePrivateKey();
            a.device.rotatePrivateKey(newKey);
            a.sendTo(b, 2); // staged: no session to send it under
            h.settle();
            assertEquals(initiationsOfA, h.count(a, Protocol.TYPE_INITIATION),
                    "A started a handshake that B refuses now, or that crosses B's once B knows the key");
            // B learns the key (in wgcni from the registry) and starts the handshake; no clock moves.
            b.device.removePeer(a.publicKey);
            Peer bSeesA = b.device.addPeer(X25519.publicKey(newKey));
            bSeesA.setEndpoint(a.endpoint());
            b.device.addAllowedIp(bSeesA, new Prefix(a.inner, 32));
            bSeesA.setPersistentKeepaliveInterval(25);
            byte[] staged = b.tun.poll(5_000);
            assertNotNull(staged, "A's staged packet, sent once B's keepalive confirmed the new session");
            assertEquals(2, IpPackets.seq(staged));
            assertNotNull(roundTrip(b, a, 3));
            assertEquals(initiationsOfA, h.count(a, Protocol.TYPE_INITIATION));
            assertEquals(initiationsOfB + 1, h.count(b, Protocol.TYPE_INITIATION));
        }
    }

    @Test
    void aPeerWithTheDevicesOwnKeyIsRefused() {
        try (Harness h = new Harness()) {
            Node a = h.node();
            try {
                a.device.addPeer(a.publicKey);
                throw new AssertionError("accepted its own key as a peer");
            } catch (IllegalArgumentException expected) {
                assertTrue(expected.getMessage().contains("own public key"));
            }
            assertEquals(List.of(), List.copyOf(a.device.peers()));
        }
    }

    @Test
    void paddingFollowsWireGuardGo() {
        assertEquals(0, Outbound.paddingSize(0, 1420));
        assertEquals(15, Outbound.paddingSize(1, 1420));
        assertEquals(0, Outbound.paddingSize(16, 1420));
        assertEquals(4, Outbound.paddingSize(1416, 1420), "never past the MTU");
        assertEquals(0, Outbound.paddingSize(1420, 1420));
        assertEquals(12, Outbound.paddingSize(100, 0));
    }
}
