package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.SecretKey;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/** Every case against both implementations, the instance methods and the static ones (a per-thread instance). */
@ParameterizedClass(name = "{0}")
@EnumSource(ChaChaPoly.Impl.class)
class ChaChaPolyTest {
    private static final HexFormat HEX = HexFormat.of();
    static final byte[] SUNSCREEN = ("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for"
            + " the future, sunscreen would be it.").getBytes(StandardCharsets.US_ASCII);
    static final byte[] RFC_AD = HEX.parseHex("50515253c0c1c2c3c4c5c6c7");

    // RFC 8439 section 2.8.2; the RFC's nonce (07 00 00 00 ||  40..47) is not of WireGuard's form.
    private static final byte[] RFC_NONCE = HEX.parseHex("070000004041424344454647");
    private static final String RFC_SEALED = "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
            + "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58"
            + "fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
            + "1ae10b594f09e26a7e902ecbd0600691";

    private final ChaChaPoly.Impl impl;
    private final ChaChaPoly aead;

    ChaChaPolyTest(ChaChaPoly.Impl impl) {
        this.impl = impl;
        this.aead = new ChaChaPoly(impl);
    }

    @BeforeEach
    void useImplForStatics() {
        ChaChaPoly.useOnThisThread(impl);
    }

    @AfterEach
    void restoreDefault() {
        ChaChaPoly.useOnThisThread(null);
    }

    static byte[] key80() {
        byte[] key = new byte[32];
        for (int i = 0; i < 32; i++) {
            key[i] = (byte) (0x80 + i);
        }
        return key;
    }

    @Test
    void rfc8439Section282() {
        SecretKey key = ChaChaPoly.key(key80());
        byte[] out = new byte[SUNSCREEN.length + 16];
        assertEquals(out.length, aead.seal(key, RFC_NONCE, SUNSCREEN, 0, SUNSCREEN.length, out, 0, RFC_AD));
        assertEquals(RFC_SEALED, HEX.formatHex(out));

        byte[] plain = new byte[SUNSCREEN.length];
        assertEquals(SUNSCREEN.length, aead.open(key, RFC_NONCE, out, 0, out.length, plain, 0, RFC_AD));
        assertArrayEquals(SUNSCREEN, plain);
    }

    @Test
    void wireGuardNonceIsZerosThenLittleEndianCounter() {
        SecretKey key = ChaChaPoly.key(key80());
        long counter = 0x0102030405060708L;
        byte[] nonce = HEX.parseHex("000000000807060504030201");
        byte[] viaCounter = new byte[SUNSCREEN.length + 16];
        byte[] viaNonce = new byte[SUNSCREEN.length + 16];
        aead.seal(key, counter, SUNSCREEN, 0, SUNSCREEN.length, viaCounter, 0, RFC_AD);
        aead.seal(key, nonce, SUNSCREEN, 0, SUNSCREEN.length, viaNonce, 0, RFC_AD);
        assertArrayEquals(viaNonce, viaCounter);
    }

    @Test
    void roundTripsWithOffsetsAndNullAd() {
        SecretKey key = ChaChaPoly.key(new byte[32]);
        byte[] in = new byte[10 + 1000];
        Arrays.fill(in, (byte) 0x5a);
        byte[] sealed = new byte[7 + 1000 + 16];
        assertEquals(1016, aead.seal(key, 42, in, 10, 1000, sealed, 7, null));
        byte[] plain = new byte[3 + 1000];
        assertEquals(1000, aead.open(key, 42, sealed, 7, 1016, plain, 3, null));
        assertArrayEquals(Arrays.copyOfRange(in, 10, 1010), Arrays.copyOfRange(plain, 3, 1003));
        // A different counter is a different nonce.
        assertEquals(-1, aead.open(key, 43, sealed, 7, 1016, plain, 3, null));
    }

    @Test
    void emptyPlaintextIsJustATag() {
        // The handshake's "empty" payload: AEAD(key, 0, empty, hash).
        byte[] sealed = ChaChaPoly.seal(key80(), 0, new byte[0], RFC_AD);
        assertEquals(16, sealed.length);
        byte[] opened = ChaChaPoly.open(key80(), 0, sealed, RFC_AD);
        assertNotNull(opened);
        assertEquals(0, opened.length);
    }

    @Test
    void inPlace() {
        SecretKey key = ChaChaPoly.key(key80());
        byte[] expected = new byte[SUNSCREEN.length + 16];
        aead.seal(key, 5, SUNSCREEN, 0, SUNSCREEN.length, expected, 0, null);

        byte[] buf = new byte[4 + SUNSCREEN.length + 16];
        System.arraycopy(SUNSCREEN, 0, buf, 4, SUNSCREEN.length);
        assertEquals(SUNSCREEN.length + 16, aead.seal(key, 5, buf, 4, SUNSCREEN.length, buf, 4, null));
        assertArrayEquals(expected, Arrays.copyOfRange(buf, 4, buf.length));

        assertEquals(SUNSCREEN.length, aead.open(key, 5, buf, 4, SUNSCREEN.length + 16, buf, 4, null));
        assertArrayEquals(SUNSCREEN, Arrays.copyOfRange(buf, 4, 4 + SUNSCREEN.length));
    }

    @Test
    void rejectsTamperingWithoutThrowing() {
        byte[] key = key80();
        byte[] sealed = ChaChaPoly.seal(key, 1, SUNSCREEN, RFC_AD);
        assertArrayEquals(SUNSCREEN, ChaChaPoly.open(key, 1, sealed, RFC_AD));

        byte[] badTag = sealed.clone();
        badTag[badTag.length - 1] ^= 1;
        assertNull(ChaChaPoly.open(key, 1, badTag, RFC_AD));

        byte[] badCiphertext = sealed.clone();
        badCiphertext[0] ^= (byte) 0x80;
        assertNull(ChaChaPoly.open(key, 1, badCiphertext, RFC_AD));

        byte[] badAd = RFC_AD.clone();
        badAd[11] ^= 1;
        assertNull(ChaChaPoly.open(key, 1, sealed, badAd));
        assertNull(ChaChaPoly.open(key, 1, sealed, null));

        byte[] badKey = key.clone();
        badKey[0] ^= 1;
        assertNull(ChaChaPoly.open(badKey, 1, sealed, RFC_AD));
    }

    @Test
    void failedOpenLeavesTheOutputUntouched() {
        SecretKey key = ChaChaPoly.key(key80());
        byte[] buf = new byte[SUNSCREEN.length + 16];
        aead.seal(key, 9, SUNSCREEN, 0, SUNSCREEN.length, buf, 0, null);
        buf[3] ^= 1;
        byte[] before = buf.clone();
        assertEquals(-1, aead.open(key, 9, buf, 0, buf.length, buf, 0, null));
        assertArrayEquals(before, buf);
    }

    @Test
    void rejectsInputShorterThanATag() {
        SecretKey key = ChaChaPoly.key(key80());
        byte[] out = new byte[16];
        for (int len = 0; len < 16; len++) {
            assertEquals(-1, aead.open(key, 0, new byte[16], 0, len, out, 0, null));
            assertNull(ChaChaPoly.open(key80(), 0, new byte[len], null));
        }
    }

    @Test
    void sealsTwiceWithTheSameKeyAndCounter() {
        // The JDK refuses an encrypt init that repeats the previous one's key and nonce; a retransmitted handshake
        // message does exactly that.
        SecretKey key = ChaChaPoly.key(key80());
        byte[] first = new byte[SUNSCREEN.length + 16];
        byte[] second = new byte[SUNSCREEN.length + 16];
        aead.seal(key, 0, SUNSCREEN, 0, SUNSCREEN.length, first, 0, RFC_AD);
        aead.seal(key, 0, SUNSCREEN, 0, SUNSCREEN.length, second, 0, RFC_AD);
        assertArrayEquals(first, second);
        // A different SecretKey object with the same bytes is the same key to the JDK.
        aead.seal(ChaChaPoly.key(key80()), 0, SUNSCREEN, 0, SUNSCREEN.length, second, 0, RFC_AD);
        assertArrayEquals(first, second);
        assertArrayEquals(first, ChaChaPoly.seal(key80(), 0, SUNSCREEN, RFC_AD));
        assertArrayEquals(first, ChaChaPoly.seal(key80(), 0, SUNSCREEN, RFC_AD));
        assertFalse(Arrays.equals(first, ChaChaPoly.seal(key80(), 1, SUNSCREEN, RFC_AD)));
    }

    @Test
    void instancesAreOfTheImplementationAsked() {
        assertEquals(impl, aead.impl());
        assertEquals(ChaChaPoly.DEFAULT, new ChaChaPoly().impl());
    }

    @Test
    void failedOpenIntoAnotherBufferWritesNothing() {
        SecretKey key = ChaChaPoly.key(key80());
        byte[] sealed = new byte[SUNSCREEN.length + 16];
        aead.seal(key, 9, SUNSCREEN, 0, SUNSCREEN.length, sealed, 0, RFC_AD);
        for (int flip : new int[] {0, SUNSCREEN.length - 1, SUNSCREEN.length, sealed.length - 1}) {
            byte[] bad = sealed.clone();
            bad[flip] ^= 0x10;
            byte[] out = new byte[SUNSCREEN.length];
            Arrays.fill(out, (byte) 0x3c);
            assertEquals(-1, aead.open(key, 9, bad, 0, bad.length, out, 0, RFC_AD));
            byte[] untouched = new byte[SUNSCREEN.length];
            Arrays.fill(untouched, (byte) 0x3c);
            assertArrayEquals(untouched, out, "flipped byte " + flip);
        }
    }

    @Test
    void everyLengthAroundTheBlockSizesRoundTrips() {
        // Partial Poly1305 blocks in the AD and the ciphertext, ChaCha20 blocks (64) and the JDK's keystream
        // batches (up to 512 bytes with AVX2) ending anywhere.
        SecretKey key = ChaChaPoly.key(key80());
        byte[] ad = new byte[33];
        for (int len = 0; len <= 1100; len += len < 130 ? 1 : 61) {
            byte[] plain = new byte[len];
            Arrays.fill(plain, (byte) len);
            int adLen = len % ad.length;
            byte[] adPart = Arrays.copyOf(ad, adLen);
            byte[] sealed = new byte[len + 16];
            aead.seal(key, len, plain, 0, len, sealed, 0, adPart);
            byte[] opened = new byte[len];
            assertEquals(len, aead.open(key, len, sealed, 0, sealed.length, opened, 0, adPart), "length " + len);
            assertArrayEquals(plain, opened);
        }
    }
}
