package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * wg-core's own X25519 against BouncyCastle's {@code rfc7748.X25519.scalarMult} (the implementation it replaced),
 * on random scalars and random u-coordinates of every kind the RFC's decoding has to handle.
 */
class X25519PropertyTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final BigInteger P = BigInteger.ONE.shiftLeft(255).subtract(BigInteger.valueOf(19));

    /**
     * The u-coordinates of small order on the curve and its twist: 0, 1, the two points of order 8, p - 1, and
     * the non-canonical p (= 0) and p + 1 (= 1); then each again with the top bit set, which decoding ignores.
     * X25519 gives all zeros for every one of them. (Lists made for implementations that keep the top bit also
     * carry u + p with bit 255 set; RFC 7748 decoding masks that bit, so those are ordinary points here.)
     */
    private static final String[] LOW_ORDER = withTopBitSetToo(
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");

    @Test
    void matchesBouncyCastleOnRandomInputs() {
        SplittableRandom random = new SplittableRandom(0x25519L);
        byte[] k = new byte[32];
        byte[] u = new byte[32];
        byte[] ours = new byte[32];
        byte[] bc = new byte[32];
        int zeros = 0;
        for (int i = 0; i < 2000; i++) {
            random.nextBytes(k);
            switch (i % 8) {
                case 0, 1, 2 -> random.nextBytes(u);                // any 256 bits, top bit set half the time
                case 3 -> {                                          // a real public key, as WireGuard gets
                    org.bouncycastle.math.ec.rfc7748.X25519.scalarMultBase(k, 0, u, 0);
                    random.nextBytes(k);
                }
                case 4 -> encode(u, P.add(BigInteger.valueOf(random.nextInt(19))));   // p .. p + 18, non-canonical
                case 5 -> {                                          // 2^255 - 19 + small, top bit set
                    encode(u, P.add(BigInteger.valueOf(random.nextInt(19))));
                    u[31] |= (byte) 0x80;
                }
                case 6 -> {                                          // limbs at their extremes
                    for (int j = 0; j < 32; j++) {
                        u[j] = (byte) (random.nextBoolean() ? 0xff : random.nextInt(256));
                    }
                }
                default -> System.arraycopy(HEX.parseHex(LOW_ORDER[random.nextInt(LOW_ORDER.length)]), 0, u, 0, 32);
            }
            org.bouncycastle.math.ec.rfc7748.X25519.scalarMult(k, 0, u, 0, bc, 0);
            boolean nonZero = X25519.sharedSecret(ours, k, u);
            assertArrayEquals(bc, ours, () -> "k=" + HEX.formatHex(k) + " u=" + HEX.formatHex(u));
            assertEquals(!Arrays.equals(bc, new byte[32]), nonZero);
            if (!nonZero) {
                zeros++;
            }
        }
        assertTrue(zeros >= 2000 / 8, "the low-order cases ran: " + zeros);
    }

    @Test
    void everyLowOrderPointGivesZerosAndFalse() {
        SplittableRandom random = new SplittableRandom(7);
        byte[] k = new byte[32];
        byte[] out = new byte[32];
        for (String hex : LOW_ORDER) {
            for (int i = 0; i < 4; i++) {
                random.nextBytes(k);
                Arrays.fill(out, (byte) 0x5a);
                assertFalse(X25519.sharedSecret(out, k, HEX.parseHex(hex)), hex);
                assertArrayEquals(new byte[32], out, hex);
            }
        }
    }

    @Test
    void publicKeysMatchBouncyCastleAndTheLadder() {
        SplittableRandom random = new SplittableRandom(9);
        byte[] k = new byte[32];
        byte[] bc = new byte[32];
        byte[] nine = new byte[32];
        nine[0] = 9;
        byte[] viaLadder = new byte[32];
        for (int i = 0; i < 500; i++) {
            random.nextBytes(k);
            switch (i) {
                case 0 -> Arrays.fill(k, (byte) 0);             // clamps to 2^254
                case 1 -> Arrays.fill(k, (byte) 0xff);          // clamps to 2^255 - 8: every digit carries
                case 2 -> Arrays.fill(k, (byte) 0x88);          // every radix-16 digit 8: the most negative digits
                case 3 -> Arrays.fill(k, (byte) 0x77);
                default -> { }
            }
            org.bouncycastle.math.ec.rfc7748.X25519.scalarMultBase(k, 0, bc, 0);
            assertArrayEquals(bc, X25519.publicKey(Key.of(k)).bytes());
            assertTrue(X25519.sharedSecret(viaLadder, k, nine));
            assertArrayEquals(bc, viaLadder);
        }
    }

    @Test
    void theCallersArraysAreLeftAlone() {
        byte[] k = HEX.parseHex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
        byte[] u = HEX.parseHex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c");
        byte[] kCopy = k.clone();
        byte[] uCopy = u.clone();
        byte[] out = new byte[32];
        assertTrue(X25519.sharedSecret(out, k, u));
        assertArrayEquals(kCopy, k);
        assertArrayEquals(uCopy, u);
        assertEquals("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", HEX.formatHex(out));
    }

    private static String[] withTopBitSetToo(String... canonical) {
        String[] all = Arrays.copyOf(canonical, 2 * canonical.length);
        for (int i = 0; i < canonical.length; i++) {
            byte[] u = HEX.parseHex(canonical[i]);
            u[31] |= (byte) 0x80;
            all[canonical.length + i] = HEX.formatHex(u);
        }
        return all;
    }

    /** Writes {@code v} (below 2^256) as 32 bytes, little-endian. */
    private static void encode(byte[] out, BigInteger v) {
        byte[] be = v.toByteArray();
        Arrays.fill(out, (byte) 0);
        for (int i = 0; i < be.length && i < 32; i++) {
            out[i] = be[be.length - 1 - i];
        }
    }
}
