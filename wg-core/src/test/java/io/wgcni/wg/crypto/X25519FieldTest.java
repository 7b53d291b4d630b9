package io.wgcni.wg.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link Field25519} (X25519's arithmetic modulo 2^255 - 19) against BigInteger, at the edges of its bounds. */
class X25519FieldTest {
    private static final BigInteger P = BigInteger.ONE.shiftLeft(255).subtract(BigInteger.valueOf(19));
    private static final long REDUCED_MAX = (1L << 51) + (1L << 24) - 1;
    private static final long INPUT_MAX = 3 * (1L << 52) - 1;
    private static final long SMALL_INPUT_MAX = (1L << 53) - 1;

    private final SplittableRandom random = new SplittableRandom(255_19);

    @Test
    void multiplicationAndSquaringAtTheInputBound() {
        long[] a = new long[5];
        long[] b = new long[5];
        long[] r = new long[5];
        for (int i = 0; i < 20_000; i++) {
            fill(a, INPUT_MAX, i);
            fill(b, INPUT_MAX, i / 3);
            Field25519.mul(r, a, b);
            assertReduced(r);
            assertEquals(value(a).multiply(value(b)).mod(P), value(r).mod(P));
            Field25519.sqr(r, a);
            assertReduced(r);
            assertEquals(value(a).pow(2).mod(P), value(r).mod(P));
            Field25519.sqrN(r, a, 3);
            assertReduced(r);
            assertEquals(value(a).pow(8).mod(P), value(r).mod(P));
            fill(a, SMALL_INPUT_MAX, i);
            Field25519.mulSmall(r, a, 121665);
            assertReduced(r);
            assertEquals(value(a).multiply(BigInteger.valueOf(121665)).mod(P), value(r).mod(P));
        }
    }

    @Test
    void additionAndSubtractionOfReducedElements() {
        long[] a = new long[5];
        long[] b = new long[5];
        long[] r = new long[5];
        for (int i = 0; i < 20_000; i++) {
            fill(a, REDUCED_MAX, i);
            fill(b, REDUCED_MAX, i / 2);
            Field25519.add(r, a, b);
            assertBelow(r, INPUT_MAX);
            assertEquals(value(a).add(value(b)).mod(P), value(r).mod(P));
            long[] big = new long[5];
            fill(big, (1L << 52) + (1L << 25) - 1, i);
            Field25519.sub(r, big, b);
            assertBelow(r, INPUT_MAX);
            assertEquals(value(big).subtract(value(b)).mod(P), value(r).mod(P));
            fill(big, (1L << 52) - 1, i);
            Field25519.add(r, big, b);
            assertBelow(r, INPUT_MAX);
            assertEquals(value(big).add(value(b)).mod(P), value(r).mod(P));
            Field25519.add(r, a, b);
            assertEquals(value(a).add(value(b)).mod(P), value(r).mod(P));
            Field25519.sub(r, a, b);
            assertBelow(r, INPUT_MAX);
            assertEquals(value(a).subtract(value(b)).mod(P), value(r).mod(P));
        }
    }

    @Test
    void inversion() {
        long[] a = new long[5];
        long[] r = new long[5];
        long[][] t = {new long[5], new long[5], new long[5], new long[5]};
        for (int i = 0; i < 300; i++) {
            fill(a, REDUCED_MAX, i);
            Field25519.invert(r, a, t[0], t[1], t[2], t[3]);
            BigInteger v = value(a).mod(P);
            assertEquals(v.signum() == 0 ? BigInteger.ZERO : v.modInverse(P), value(r).mod(P));
        }
        Field25519.zero(a);
        Field25519.invert(r, a, t[0], t[1], t[2], t[3]);
        assertEquals(BigInteger.ZERO, value(r).mod(P));
    }

    @Test
    void encodingIsCanonical() {
        long[] a = new long[5];
        byte[] out = new byte[32];
        // Values just below and above p, 2p and 2^255, and random reduced elements.
        BigInteger[] edges = {
            BigInteger.ZERO, BigInteger.ONE, P.subtract(BigInteger.ONE), P, P.add(BigInteger.ONE),
            P.add(BigInteger.valueOf(18)), BigInteger.ONE.shiftLeft(255).subtract(BigInteger.ONE),
            P.shiftLeft(1).subtract(BigInteger.ONE), P.shiftLeft(1), P.shiftLeft(1).add(BigInteger.valueOf(5)),
        };
        for (BigInteger v : edges) {
            set(a, v);
            Field25519.encode(out, 0, a);
            assertEquals(v.mod(P), decodeLittleEndian(out), v.toString(16));
        }
        for (int i = 0; i < 20_000; i++) {
            fill(a, REDUCED_MAX, i);
            Field25519.encode(out, 0, a);
            assertEquals(value(a).mod(P), decodeLittleEndian(out));
        }
    }

    @Test
    void decodingIgnoresTheTopBit() {
        byte[] in = new byte[32];
        long[] a = new long[5];
        byte[] out = new byte[32];
        for (int i = 0; i < 1000; i++) {
            random.nextBytes(in);
            Field25519.decode(a, in, 0);
            assertBelow(a, (1L << 51) - 1);
            BigInteger expected = decodeLittleEndian(in).clearBit(255);
            assertEquals(expected, value(a));
            if (expected.compareTo(P) < 0) {
                Field25519.encode(out, 0, a);
                byte[] masked = in.clone();
                masked[31] &= 0x7f;
                assertArrayEquals(masked, out);
            }
        }
    }

    /** Random limbs up to {@code max}, a quarter of the time all at the maximum or with several at it. */
    private void fill(long[] a, long max, int i) {
        for (int j = 0; j < 5; j++) {
            switch (i % 4) {
                case 0 -> a[j] = max;
                case 1 -> a[j] = random.nextBoolean() ? max : random.nextLong(max + 1);
                default -> a[j] = random.nextLong(max + 1);
            }
        }
    }

    private static void set(long[] a, BigInteger v) {
        // Limbs below 2^51 except the top one, which takes the rest (below 2^53 for the values above).
        for (int j = 0; j < 4; j++) {
            a[j] = v.shiftRight(51 * j).longValue() & ((1L << 51) - 1);
        }
        a[4] = v.shiftRight(204).longValue();
        assertTrue(a[4] < 1L << 53);
    }

    private static BigInteger value(long[] a) {
        BigInteger v = BigInteger.ZERO;
        for (int j = 4; j >= 0; j--) {
            v = v.shiftLeft(51).add(BigInteger.valueOf(a[j]));
        }
        return v;
    }

    private static BigInteger decodeLittleEndian(byte[] b) {
        byte[] be = new byte[33];
        for (int i = 0; i < 32; i++) {
            be[32 - i] = b[i];
        }
        return new BigInteger(be);
    }

    private static void assertReduced(long[] r) {
        assertBelow(r, REDUCED_MAX);
    }

    private static void assertBelow(long[] r, long max) {
        for (long limb : r) {
            assertTrue(limb >= 0 && limb <= max,
                    () -> "limb " + Long.toHexString(limb) + " above " + Long.toHexString(max));
        }
    }
}
