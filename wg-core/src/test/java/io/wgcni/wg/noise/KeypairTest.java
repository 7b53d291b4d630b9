package io.wgcni.wg.noise;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.crypto.ChaChaPoly;
import org.junit.jupiter.api.Test;

/** A session's keys live as long as anyone seals or opens with them, and not a moment longer. */
class KeypairTest {
    private static final byte[] SEND = filled(1);
    private static final byte[] RECEIVE = filled(2);

    private static byte[] filled(int b) {
        byte[] k = new byte[32];
        java.util.Arrays.fill(k, (byte) b);
        return k;
    }

    private static Keypair keypair() {
        return new Keypair(SEND, RECEIVE, true, 1, 2, 0);
    }

    private static byte[] sealWith(Keypair k) {
        byte[] out = new byte[16 + 16];
        new ChaChaPoly().seal(k.sendKey(), 0, new byte[16], 0, 16, out, 0, null);
        return out;
    }

    @Test
    void destroyWhileInUseKeepsTheKeysUntilTheLastRelease() {
        Keypair k = keypair();
        byte[] expected = sealWith(keypair());
        assertTrue(k.acquire());
        assertTrue(k.acquire());
        k.destroy();
        assertFalse(k.isValid(), "no new use once destroyed");
        assertFalse(k.acquire());
        assertArrayEquals(expected, sealWith(k), "a batch sealing now still has the real key");
        k.release();
        assertFalse(k.keysZeroed());
        assertArrayEquals(expected, sealWith(k));
        k.release();
        assertTrue(k.keysZeroed(), "zeroed with the last reference");
        assertArrayEquals(new byte[32], k.sendKey().getEncoded());
        assertArrayEquals(new byte[32], k.receiveKey().getEncoded());
    }

    @Test
    void destroyWithoutUsersZeroesAtOnceAndOnlyOnce() {
        Keypair k = keypair();
        k.destroy();
        k.destroy();
        assertTrue(k.keysZeroed());
        assertFalse(k.acquire());
    }

    @Test
    void countersComeInBlocksAndStopBeforeTheLimit() {
        Keypair k = keypair();
        assertEquals(0, k.nextSendCounters(0, 64));
        assertEquals(64, k.nextSendCounters(0, 1));
        k.skipSendCounter(Protocol.REJECT_AFTER_MESSAGES - 10);
        assertEquals(-1, k.nextSendCounters(0, 11), "11 would pass the limit");
        assertEquals(-1, k.nextSendCounter(0), "and the keypair is spent");
        k.skipSendCounter(Protocol.REJECT_AFTER_MESSAGES - 10);
        assertEquals(Protocol.REJECT_AFTER_MESSAGES - 10, k.nextSendCounters(0, 10), "exactly up to the limit");
        assertEquals(-1, k.nextSendCounter(0));
    }
}
