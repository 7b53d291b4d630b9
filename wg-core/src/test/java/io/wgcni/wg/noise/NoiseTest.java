package io.wgcni.wg.noise;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.crypto.ChaChaPoly;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class NoiseTest {
    private static final long EPOCH = 1_700_000_000_000_000_000L;
    private static final long MS = 1_000_000L;

    private final StaticIdentity alice = StaticIdentity.of(X25519.generatePrivateKey());
    private final StaticIdentity bob = StaticIdentity.of(X25519.generatePrivateKey());
    private final Handshake aliceSeesBob = new Handshake(bob.publicKey());
    private final Handshake bobSeesAlice = new Handshake(alice.publicKey());

    NoiseTest() {
        aliceSeesBob.precompute(alice);
        bobSeesAlice.precompute(bob);
    }

    private Handshake bobLookup(Key k) {
        return k.equals(alice.publicKey()) ? bobSeesAlice : null;
    }

    private byte[] initiation(long epochNanos) {
        byte[] msg = new byte[Protocol.Initiation.SIZE];
        assertTrue(Noise.createInitiation(alice, aliceSeesBob, 0x11223344, epochNanos, msg, 0));
        return msg;
    }

    @Test
    void constructionConstantsMatchTheWhitepaper() {
        assertEquals("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36",
            HexFormat.of().formatHex(Noise.initialChainKey()));
        assertEquals("2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3",
            HexFormat.of().formatHex(Noise.initialHash()));
        assertEquals(148, Protocol.Initiation.SIZE);
        assertEquals(92, Protocol.Response.SIZE);
        assertEquals(64, Protocol.CookieReply.SIZE);
        assertEquals(32, Protocol.Data.MIN_SIZE);
        assertEquals(18, Protocol.MAX_TIMER_HANDSHAKES);
    }

    @Test
    void fullHandshakeDerivesMatchingTransportKeys() {
        byte[] init = initiation(EPOCH);
        assertEquals(Protocol.TYPE_INITIATION, Protocol.getInt(init, 0));
        assertEquals(0x11223344, Protocol.getInt(init, Protocol.Initiation.SENDER));

        assertSame(bobSeesAlice, Noise.consumeInitiation(bob, init, 0, this::bobLookup, 0));
        byte[] resp = new byte[Protocol.Response.SIZE];
        assertTrue(Noise.createResponse(bobSeesAlice, 0x55667788, 0, resp, 0));
        assertEquals(0x11223344, Protocol.getInt(resp, Protocol.Response.RECEIVER));
        Keypair bobKeys = Noise.beginSession(bobSeesAlice, 0);

        assertTrue(Noise.consumeResponse(alice, aliceSeesBob, resp, 0));
        Keypair aliceKeys = Noise.beginSession(aliceSeesBob, 0);

        assertTrue(aliceKeys.isInitiator());
        assertFalse(bobKeys.isInitiator());
        assertEquals(0x55667788, aliceKeys.remoteIndex());
        assertEquals(0x11223344, bobKeys.remoteIndex());
        assertArrayEquals(aliceKeys.sendKey().getEncoded(), bobKeys.receiveKey().getEncoded());
        assertArrayEquals(aliceKeys.receiveKey().getEncoded(), bobKeys.sendKey().getEncoded());

        ChaChaPoly aead = new ChaChaPoly();
        byte[] buf = new byte[64];
        int n = aead.seal(aliceKeys.sendKey(), 0, new byte[16], 0, 16, buf, 0, null);
        assertEquals(16, aead.open(bobKeys.receiveKey(), 0, buf, 0, n, buf, 0, null));
        assertEquals(Handshake.State.ZEROED, aliceSeesBob.state());
        assertEquals(0, aliceSeesBob.localIndex(), "the handshake's index now belongs to the session");
    }

    @Test
    void presharedKeysMustAgree() {
        Key psk = X25519.generatePrivateKey();
        aliceSeesBob.setPresharedKey(psk);
        bobSeesAlice.setPresharedKey(X25519.generatePrivateKey());
        byte[] init = initiation(EPOCH);
        assertNotNull(Noise.consumeInitiation(bob, init, 0, this::bobLookup, 0), "psk is not in the initiation");
        byte[] resp = new byte[Protocol.Response.SIZE];
        assertTrue(Noise.createResponse(bobSeesAlice, 1, 0, resp, 0));
        assertFalse(Noise.consumeResponse(alice, aliceSeesBob, resp, 0), "different psk: response does not open");
    }

    @Test
    void replayedAndOldInitiationsAreRejected() {
        byte[] first = initiation(EPOCH);
        assertNotNull(Noise.consumeInitiation(bob, first, 0, this::bobLookup, 0));
        assertNull(Noise.consumeInitiation(bob, first, 0, this::bobLookup, 100 * MS), "replay of the same message");
        byte[] older = initiation(EPOCH - 1_000_000_000L);
        assertNull(Noise.consumeInitiation(bob, older, 0, this::bobLookup, 200 * MS), "older timestamp");
        byte[] newer = initiation(EPOCH + 1_000_000_000L);
        assertNotNull(Noise.consumeInitiation(bob, newer, 0, this::bobLookup, 300 * MS));
    }

    @Test
    void initiationsFasterThanTheFloodLimitAreRejected() {
        assertNotNull(Noise.consumeInitiation(bob, initiation(EPOCH), 0, this::bobLookup, 0));
        byte[] fast = initiation(EPOCH + 1_000_000_000L);
        assertNull(Noise.consumeInitiation(bob, fast, 0, this::bobLookup, 20 * MS), "within 20 ms");
        byte[] later = initiation(EPOCH + 2_000_000_000L);
        assertNotNull(Noise.consumeInitiation(bob, later, 0, this::bobLookup, 21 * MS));
    }

    @Test
    void initiationsForUnknownPeersOrWrongKeysFail() {
        byte[] init = initiation(EPOCH);
        assertNull(Noise.consumeInitiation(bob, init, 0, k -> null, 0), "unknown peer");
        StaticIdentity eve = StaticIdentity.of(X25519.generatePrivateKey());
        assertNull(Noise.consumeInitiation(eve, init, 0, this::bobLookup, 0), "not addressed to eve");
        // Everything after the (unauthenticated) sender index is bound to the handshake.
        for (int i = Protocol.Initiation.EPHEMERAL; i < Protocol.Initiation.MAC1; i += 7) {
            byte[] bad = init.clone();
            bad[i] ^= 1;
            assertNull(Noise.consumeInitiation(bob, bad, 0, this::bobLookup, 0), "flipped byte " + i);
        }
    }

    @Test
    void aLowOrderEphemeralIsRejected() {
        byte[] init = initiation(EPOCH);
        java.util.Arrays.fill(init, Protocol.Initiation.EPHEMERAL, Protocol.Initiation.EPHEMERAL + 32, (byte) 0);
        assertNull(Noise.consumeInitiation(bob, init, 0, this::bobLookup, 0));
    }

    @Test
    void responsesOutOfStateAreRejected() {
        byte[] resp = new byte[Protocol.Response.SIZE];
        assertFalse(Noise.createResponse(bobSeesAlice, 1, 0, resp, 0), "no initiation consumed");
        assertFalse(Noise.consumeResponse(alice, aliceSeesBob, resp, 0), "no initiation sent");
        assertNull(Noise.beginSession(aliceSeesBob, 0));
    }

    @Test
    void cookieRoundTrip() {
        CookieChecker checker = new CookieChecker();
        checker.init(bob.publicKey());
        CookieGenerator generator = new CookieGenerator(bob.publicKey());
        byte[] init = initiation(EPOCH);
        generator.addMacs(init, 0, init.length, 0);
        assertTrue(checker.checkMac1(init, 0, init.length));
        byte[] source = {10, 0, 0, 1, (byte) 0xca, 0x6c};
        assertFalse(checker.checkMac2(init, 0, init.length, source, 0), "no cookie yet");

        byte[] reply = new byte[Protocol.CookieReply.SIZE];
        assertTrue(checker.createReply(init, 0, init.length, 0x11223344, source, 0, reply, 0));
        assertEquals(Protocol.TYPE_COOKIE_REPLY, Protocol.messageType(reply, 0, reply.length));
        assertTrue(generator.consumeReply(reply, 0, 0));
        // A reply is taken once: the same one again (a replay) finds no MAC1 to answer.
        assertFalse(generator.consumeReply(reply, 0, 0), "a second reply to one MAC1");

        byte[] retry = initiation(EPOCH + 1_000_000_000L);
        generator.addMacs(retry, 0, retry.length, 1_000 * MS);
        assertTrue(checker.checkMac2(retry, 0, retry.length, source, 1_000 * MS));
        byte[] otherSource = {10, 0, 0, 2, (byte) 0xca, 0x6c};
        assertFalse(checker.checkMac2(retry, 0, retry.length, otherSource, 1_000 * MS), "cookie bound to source");
        assertFalse(checker.checkMac2(retry, 0, retry.length, source, Protocol.COOKIE_REFRESH_TIME + MS),
            "cookie secret rotated after two minutes");

        byte[] tampered = reply.clone();
        tampered[40] ^= 1;
        assertFalse(generator.consumeReply(tampered, 0, 0));
        byte[] badMac1 = init.clone();
        badMac1[Protocol.Initiation.MAC1] ^= 1;
        assertFalse(checker.checkMac1(badMac1, 0, badMac1.length));
    }

    @Test
    void theInitiatorStopsSendingACookieBeforeTheRespondersSecretChanges() {
        CookieChecker checker = new CookieChecker();
        checker.init(bob.publicKey());
        CookieGenerator generator = new CookieGenerator(bob.publicKey());
        byte[] init = initiation(EPOCH);
        generator.addMacs(init, 0, init.length, 0);
        byte[] source = {10, 0, 0, 1, (byte) 0xca, 0x6c};
        byte[] reply = new byte[Protocol.CookieReply.SIZE];
        assertTrue(checker.createReply(init, 0, init.length, 0x11223344, source, 0, reply, 0));
        assertTrue(generator.consumeReply(reply, 0, 0));
        int mac2 = Protocol.Initiation.SIZE - Protocol.MAC_LENGTH;
        byte[] early = initiation(EPOCH + 1);
        generator.addMacs(early, 0, early.length, CookieGenerator.COOKIE_LIFETIME - MS);
        assertFalse(java.util.Arrays.equals(new byte[Protocol.MAC_LENGTH],
                java.util.Arrays.copyOfRange(early, mac2, mac2 + Protocol.MAC_LENGTH)),
                "MAC2 while the cookie is fresh");
        byte[] late = initiation(EPOCH + 2);
        generator.addMacs(late, 0, late.length, CookieGenerator.COOKIE_LIFETIME);
        assertArrayEquals(new byte[Protocol.MAC_LENGTH], java.util.Arrays.copyOfRange(late, mac2,
                mac2 + Protocol.MAC_LENGTH), "no MAC2 from 115 s on");
        assertEquals(115_000 * MS, CookieGenerator.COOKIE_LIFETIME);
    }

    @Test
    void keypairRotationFollowsKeyConfirmation() {
        Keypairs kps = new Keypairs();
        Keypair responderSession = new Keypair(new byte[32], new byte[32], false, 1, 2, 0);
        kps.install(responderSession);
        assertNull(kps.current(), "a responder's session waits for confirmation");
        assertSame(responderSession, kps.next());
        assertNotNull(kps.receivedWith(responderSession));
        assertSame(responderSession, kps.current());
        assertNull(kps.next());
        assertNull(kps.receivedWith(responderSession), "confirmation happens once");

        Keypair initiatorSession = new Keypair(new byte[32], new byte[32], true, 3, 4, 0);
        kps.install(initiatorSession);
        assertSame(initiatorSession, kps.current());
        assertSame(responderSession, kps.previous());
        kps.clear();
        assertFalse(initiatorSession.isValid());
        assertFalse(responderSession.isValid());
    }

    @Test
    void sessionsStopSendingAtTheirLimits() {
        Keypair k = new Keypair(new byte[32], new byte[32], true, 1, 2, 0);
        assertEquals(0, k.nextSendCounter(0));
        assertEquals(1, k.nextSendCounter(0));
        assertEquals(-1, k.nextSendCounter(Protocol.REJECT_AFTER_TIME), "too old");
        k.skipSendCounter(Protocol.REJECT_AFTER_MESSAGES - 1);
        assertEquals(Protocol.REJECT_AFTER_MESSAGES - 1, k.nextSendCounter(0));
        assertEquals(-1, k.nextSendCounter(0), "out of counters");
        assertFalse(k.canSend(0));
    }

    @Test
    void messageTypesAreCheckedWithTheirSizes() {
        byte[] b = new byte[200];
        Protocol.putInt(b, 0, 1);
        assertEquals(1, Protocol.messageType(b, 0, 148));
        assertEquals(0, Protocol.messageType(b, 0, 147));
        b[1] = 1;
        assertEquals(0, Protocol.messageType(b, 0, 148), "reserved bytes must be zero");
        Protocol.putInt(b, 0, 4);
        assertEquals(4, Protocol.messageType(b, 0, 32));
        assertEquals(0, Protocol.messageType(b, 0, 31));
        Protocol.putInt(b, 0, 5);
        assertEquals(0, Protocol.messageType(b, 0, 100));
        assertEquals(0, Protocol.messageType(b, 0, 3));
    }
}
