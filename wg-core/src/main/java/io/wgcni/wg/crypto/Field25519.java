package io.wgcni.wg.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Arithmetic modulo p = 2^255 - 19 for {@link X25519}: radix 2^51, an element is a {@code long[5]} holding
 * {@code f[0] + f[1] 2^51 + f[2] 2^102 + f[3] 2^153 + f[4] 2^204}, unsigned limbs, not necessarily reduced.
 *
 * <p><b>Products.</b> Java has no 128-bit type, so each 64x64-bit limb product p = a b is taken in two pieces
 * with two intrinsics: x = a << 6 and y = b << 7 make x y = p 2^13, so {@code Math.multiplyHigh(x, y)} (one
 * {@code imul}) is exactly floor(p / 2^51), and {@code (x * y) >>> 13} is exactly p mod 2^51. A column of the
 * schoolbook product sums the high pieces (h) and the low pieces (l) separately, with no carry to detect; limb k of
 * the 9-limb product is l_k + h_(k-1), and limbs 5..9 fold onto 0..4 times 19 (2^255 = 19 mod p). That is 50
 * multiply instructions for a multiplication (25 products), 30 for a squaring (15: squares and doubled cross
 * terms), against 100 32x32-bit products for the usual 10-limb radix 2^25.5 (ref10, BouncyCastle's X25519Field).
 *
 * <p><b>Bounds.</b> "Reduced" here means every limb below 2^51 + 2^24 (not the canonical value: that is only
 * computed by {@link #encode}). {@link #mul}, {@link #sqr}, {@link #sqrN} and {@link #mulSmall} take inputs with
 * limbs below 2^53 (so x and y stay below 2^63) and return reduced elements; {@link #add} and {@link #sub} take
 * reduced inputs and return limbs below 2^53. With limbs below 2^53 a column's h is below 5 2^55 and its l below
 * 5 2^51, so a folded limb l_k + h_(k-1) + 19 (l_(k+5) + h_(k+4)) is below 2^62: no overflow anywhere. One
 * parallel carry round then brings every limb below 2^51 + 2^16.
 *
 * <p>Everything is constant time: no branch and no memory address depends on the values.
 */
final class Field25519 {
    static final int LIMBS = 5;
    private static final long M = (1L << 51) - 1;
    private static final VarHandle LE64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private Field25519() {
    }

    static long[] create() {
        return new long[LIMBS];
    }

    static void copy(long[] r, long[] a) {
        r[0] = a[0];
        r[1] = a[1];
        r[2] = a[2];
        r[3] = a[3];
        r[4] = a[4];
    }

    static void zero(long[] r) {
        r[0] = 0;
        r[1] = 0;
        r[2] = 0;
        r[3] = 0;
        r[4] = 0;
    }

    static void one(long[] r) {
        r[0] = 1;
        r[1] = 0;
        r[2] = 0;
        r[3] = 0;
        r[4] = 0;
    }

    /** r = the 32 little-endian bytes at {@code in[off]} with the top bit (bit 255) ignored, as RFC 7748 decodes u. */
    static void decode(long[] r, byte[] in, int off) {
        long w0 = (long) LE64.get(in, off);
        long w1 = (long) LE64.get(in, off + 8);
        long w2 = (long) LE64.get(in, off + 16);
        long w3 = (long) LE64.get(in, off + 24);
        r[0] = w0 & M;
        r[1] = ((w0 >>> 51) | (w1 << 13)) & M;
        r[2] = ((w1 >>> 38) | (w2 << 26)) & M;
        r[3] = ((w2 >>> 25) | (w3 << 39)) & M;
        r[4] = (w3 >>> 12) & M;
    }

    /** The canonical encoding (value in [0, p)) of a reduced {@code a}, 32 bytes little-endian at {@code out[off]}. */
    static void encode(byte[] out, int off, long[] a) {
        long h0 = a[0];
        long h1 = a[1];
        long h2 = a[2];
        long h3 = a[3];
        long h4 = a[4];
        // Two carry passes: every limb below 2^51, value below 2^255.
        for (int pass = 0; pass < 2; pass++) {
            h1 += h0 >>> 51;
            h0 &= M;
            h2 += h1 >>> 51;
            h1 &= M;
            h3 += h2 >>> 51;
            h2 &= M;
            h4 += h3 >>> 51;
            h3 &= M;
            h0 += 19 * (h4 >>> 51);
            h4 &= M;
        }
        // q = 1 iff value >= p, that is iff value + 19 >= 2^255; then add 19 and drop bit 255 (value - p).
        long q = (h0 + 19) >>> 51;
        q = (h1 + q) >>> 51;
        q = (h2 + q) >>> 51;
        q = (h3 + q) >>> 51;
        q = (h4 + q) >>> 51;
        h0 += 19 * q;
        h1 += h0 >>> 51;
        h0 &= M;
        h2 += h1 >>> 51;
        h1 &= M;
        h3 += h2 >>> 51;
        h2 &= M;
        h4 += h3 >>> 51;
        h3 &= M;
        h4 &= M;
        LE64.set(out, off, h0 | (h1 << 51));
        LE64.set(out, off + 8, (h1 >>> 13) | (h2 << 38));
        LE64.set(out, off + 16, (h2 >>> 26) | (h3 << 25));
        LE64.set(out, off + 24, (h3 >>> 39) | (h4 << 12));
    }

    /** r = a + b (no carry). */
    static void add(long[] r, long[] a, long[] b) {
        r[0] = a[0] + b[0];
        r[1] = a[1] + b[1];
        r[2] = a[2] + b[2];
        r[3] = a[3] + b[3];
        r[4] = a[4] + b[4];
    }

    /** r = a - b + 2p (no carry): limbs stay positive because b's limbs are below 2p's. */
    static void sub(long[] r, long[] a, long[] b) {
        r[0] = a[0] + 0xFFFFFFFFFFFDAL - b[0];
        r[1] = a[1] + 0xFFFFFFFFFFFFEL - b[1];
        r[2] = a[2] + 0xFFFFFFFFFFFFEL - b[2];
        r[3] = a[3] + 0xFFFFFFFFFFFFEL - b[3];
        r[4] = a[4] + 0xFFFFFFFFFFFFEL - b[4];
    }

    /** Swaps a and b if {@code swap} is 1, leaves them if it is 0, without a branch. */
    static void cswap(long[] a, long[] b, long swap) {
        long mask = -swap;
        long t;
        t = mask & (a[0] ^ b[0]);
        a[0] ^= t;
        b[0] ^= t;
        t = mask & (a[1] ^ b[1]);
        a[1] ^= t;
        b[1] ^= t;
        t = mask & (a[2] ^ b[2]);
        a[2] ^= t;
        b[2] ^= t;
        t = mask & (a[3] ^ b[3]);
        a[3] ^= t;
        b[3] ^= t;
        t = mask & (a[4] ^ b[4]);
        a[4] ^= t;
        b[4] ^= t;
    }

    /** r = a * c for a constant 0 <= c < 2^17 (121665 in the ladder, 9 for the base point). */
    static void mulSmall(long[] r, long[] a, long c) {
        long a0 = a[0];
        long a1 = a[1];
        long a2 = a[2];
        long a3 = a[3];
        long a4 = a[4];
        long c7 = c << 7;
        // Each product is below 2^70: low 51 bits from the low word, the rest (below 2^19) from the high word.
        long h0 = Math.multiplyHigh(a0 << 6, c7);
        long h1 = Math.multiplyHigh(a1 << 6, c7);
        long h2 = Math.multiplyHigh(a2 << 6, c7);
        long h3 = Math.multiplyHigh(a3 << 6, c7);
        long h4 = Math.multiplyHigh(a4 << 6, c7);
        r[0] = ((a0 * c) & M) + 19 * h4;
        r[1] = ((a1 * c) & M) + h0;
        r[2] = ((a2 * c) & M) + h1;
        r[3] = ((a3 * c) & M) + h2;
        r[4] = ((a4 * c) & M) + h3;
    }

    /** r = a * b. r may be a or b. */
    static void mul(long[] r, long[] a, long[] b) {
        long x0 = a[0] << 6;
        long x1 = a[1] << 6;
        long x2 = a[2] << 6;
        long x3 = a[3] << 6;
        long x4 = a[4] << 6;
        long y0 = b[0] << 7;
        long y1 = b[1] << 7;
        long y2 = b[2] << 7;
        long y3 = b[3] << 7;
        long y4 = b[4] << 7;
        // Column c of the schoolbook product: l_c = sum of the products' low 51 bits, h_c = sum of the rest.
        long l0 = ((x0 * y0) >>> 13);
        long h0 = Math.multiplyHigh(x0, y0);
        long l1 = ((x0 * y1) >>> 13)
                + ((x1 * y0) >>> 13);
        long h1 = Math.multiplyHigh(x0, y1)
                + Math.multiplyHigh(x1, y0);
        long l2 = ((x0 * y2) >>> 13)
                + ((x1 * y1) >>> 13)
                + ((x2 * y0) >>> 13);
        long h2 = Math.multiplyHigh(x0, y2)
                + Math.multiplyHigh(x1, y1)
                + Math.multiplyHigh(x2, y0);
        long l3 = ((x0 * y3) >>> 13)
                + ((x1 * y2) >>> 13)
                + ((x2 * y1) >>> 13)
                + ((x3 * y0) >>> 13);
        long h3 = Math.multiplyHigh(x0, y3)
                + Math.multiplyHigh(x1, y2)
                + Math.multiplyHigh(x2, y1)
                + Math.multiplyHigh(x3, y0);
        long l4 = ((x0 * y4) >>> 13)
                + ((x1 * y3) >>> 13)
                + ((x2 * y2) >>> 13)
                + ((x3 * y1) >>> 13)
                + ((x4 * y0) >>> 13);
        long h4 = Math.multiplyHigh(x0, y4)
                + Math.multiplyHigh(x1, y3)
                + Math.multiplyHigh(x2, y2)
                + Math.multiplyHigh(x3, y1)
                + Math.multiplyHigh(x4, y0);
        long l5 = ((x1 * y4) >>> 13)
                + ((x2 * y3) >>> 13)
                + ((x3 * y2) >>> 13)
                + ((x4 * y1) >>> 13);
        long h5 = Math.multiplyHigh(x1, y4)
                + Math.multiplyHigh(x2, y3)
                + Math.multiplyHigh(x3, y2)
                + Math.multiplyHigh(x4, y1);
        long l6 = ((x2 * y4) >>> 13)
                + ((x3 * y3) >>> 13)
                + ((x4 * y2) >>> 13);
        long h6 = Math.multiplyHigh(x2, y4)
                + Math.multiplyHigh(x3, y3)
                + Math.multiplyHigh(x4, y2);
        long l7 = ((x3 * y4) >>> 13)
                + ((x4 * y3) >>> 13);
        long h7 = Math.multiplyHigh(x3, y4)
                + Math.multiplyHigh(x4, y3);
        long l8 = ((x4 * y4) >>> 13);
        long h8 = Math.multiplyHigh(x4, y4);
        // Limb k of the 9-limb product is l_k + h_(k-1); limbs 5..9 fold onto 0..4 times 19.
        long r0 = l0 + 19 * (l5 + h4);
        long r1 = l1 + h0 + 19 * (l6 + h5);
        long r2 = l2 + h1 + 19 * (l7 + h6);
        long r3 = l3 + h2 + 19 * (l8 + h7);
        long r4 = l4 + h3 + 19 * h8;

        reduce(r, r0, r1, r2, r3, r4);
    }

    /** r = a^2. r may be a. */
    static void sqr(long[] r, long[] a) {
        long a0 = a[0];
        long a1 = a[1];
        long a2 = a[2];
        long a3 = a[3];
        long a4 = a[4];
        // Squares a_i^2 from (a_i << 6)(a_i << 7); doubled cross terms 2 a_i a_j from (a_i << 7)(a_j << 7).
        long x0 = a0 << 6;
        long x1 = a1 << 6;
        long x2 = a2 << 6;
        long x3 = a3 << 6;
        long x4 = a4 << 6;
        long y0 = a0 << 7;
        long y1 = a1 << 7;
        long y2 = a2 << 7;
        long y3 = a3 << 7;
        long y4 = a4 << 7;
        long l0 = ((x0 * y0) >>> 13);
        long h0 = Math.multiplyHigh(x0, y0);
        long l1 = ((y0 * y1) >>> 13);
        long h1 = Math.multiplyHigh(y0, y1);
        long l2 = ((y0 * y2) >>> 13)
                + ((x1 * y1) >>> 13);
        long h2 = Math.multiplyHigh(y0, y2)
                + Math.multiplyHigh(x1, y1);
        long l3 = ((y0 * y3) >>> 13)
                + ((y1 * y2) >>> 13);
        long h3 = Math.multiplyHigh(y0, y3)
                + Math.multiplyHigh(y1, y2);
        long l4 = ((y0 * y4) >>> 13)
                + ((y1 * y3) >>> 13)
                + ((x2 * y2) >>> 13);
        long h4 = Math.multiplyHigh(y0, y4)
                + Math.multiplyHigh(y1, y3)
                + Math.multiplyHigh(x2, y2);
        long l5 = ((y1 * y4) >>> 13)
                + ((y2 * y3) >>> 13);
        long h5 = Math.multiplyHigh(y1, y4)
                + Math.multiplyHigh(y2, y3);
        long l6 = ((y2 * y4) >>> 13)
                + ((x3 * y3) >>> 13);
        long h6 = Math.multiplyHigh(y2, y4)
                + Math.multiplyHigh(x3, y3);
        long l7 = ((y3 * y4) >>> 13);
        long h7 = Math.multiplyHigh(y3, y4);
        long l8 = ((x4 * y4) >>> 13);
        long h8 = Math.multiplyHigh(x4, y4);
        // Limb k of the 9-limb product is l_k + h_(k-1); limbs 5..9 fold onto 0..4 times 19.
        long r0 = l0 + 19 * (l5 + h4);
        long r1 = l1 + h0 + 19 * (l6 + h5);
        long r2 = l2 + h1 + 19 * (l7 + h6);
        long r3 = l3 + h2 + 19 * (l8 + h7);
        long r4 = l4 + h3 + 19 * h8;

        reduce(r, r0, r1, r2, r3, r4);
    }

    /** r = a^(2^n) for n >= 1: {@link #sqr} n times with the element kept in locals. r may be a. */
    static void sqrN(long[] r, long[] a, int n) {
        long a0 = a[0];
        long a1 = a[1];
        long a2 = a[2];
        long a3 = a[3];
        long a4 = a[4];
        for (int i = 0; i < n; i++) {
            long x0 = a0 << 6;
            long x1 = a1 << 6;
            long x2 = a2 << 6;
            long x3 = a3 << 6;
            long x4 = a4 << 6;
            long y0 = a0 << 7;
            long y1 = a1 << 7;
            long y2 = a2 << 7;
            long y3 = a3 << 7;
            long y4 = a4 << 7;
            long l0 = ((x0 * y0) >>> 13);
            long h0 = Math.multiplyHigh(x0, y0);
            long l1 = ((y0 * y1) >>> 13);
            long h1 = Math.multiplyHigh(y0, y1);
            long l2 = ((y0 * y2) >>> 13)
                    + ((x1 * y1) >>> 13);
            long h2 = Math.multiplyHigh(y0, y2)
                    + Math.multiplyHigh(x1, y1);
            long l3 = ((y0 * y3) >>> 13)
                    + ((y1 * y2) >>> 13);
            long h3 = Math.multiplyHigh(y0, y3)
                    + Math.multiplyHigh(y1, y2);
            long l4 = ((y0 * y4) >>> 13)
                    + ((y1 * y3) >>> 13)
                    + ((x2 * y2) >>> 13);
            long h4 = Math.multiplyHigh(y0, y4)
                    + Math.multiplyHigh(y1, y3)
                    + Math.multiplyHigh(x2, y2);
            long l5 = ((y1 * y4) >>> 13)
                    + ((y2 * y3) >>> 13);
            long h5 = Math.multiplyHigh(y1, y4)
                    + Math.multiplyHigh(y2, y3);
            long l6 = ((y2 * y4) >>> 13)
                    + ((x3 * y3) >>> 13);
            long h6 = Math.multiplyHigh(y2, y4)
                    + Math.multiplyHigh(x3, y3);
            long l7 = ((y3 * y4) >>> 13);
            long h7 = Math.multiplyHigh(y3, y4);
            long l8 = ((x4 * y4) >>> 13);
            long h8 = Math.multiplyHigh(x4, y4);
            // Limb k of the 9-limb product is l_k + h_(k-1); limbs 5..9 fold onto 0..4 times 19.
            long r0 = l0 + 19 * (l5 + h4);
            long r1 = l1 + h0 + 19 * (l6 + h5);
            long r2 = l2 + h1 + 19 * (l7 + h6);
            long r3 = l3 + h2 + 19 * (l8 + h7);
            long r4 = l4 + h3 + 19 * h8;

            a0 = (r0 & M) + 19 * (r4 >>> 51);
            a1 = (r1 & M) + (r0 >>> 51);
            a2 = (r2 & M) + (r1 >>> 51);
            a3 = (r3 & M) + (r2 >>> 51);
            a4 = (r4 & M) + (r3 >>> 51);
        }
        r[0] = a0;
        r[1] = a1;
        r[2] = a2;
        r[3] = a3;
        r[4] = a4;
    }

    /** One parallel carry round of limbs below 2^63: the result's limbs are below 2^51 + 2^16 (reduced). */
    private static void reduce(long[] r, long r0, long r1, long r2, long r3, long r4) {
        r[0] = (r0 & M) + 19 * (r4 >>> 51);
        r[1] = (r1 & M) + (r0 >>> 51);
        r[2] = (r2 & M) + (r1 >>> 51);
        r[3] = (r3 & M) + (r2 >>> 51);
        r[4] = (r4 & M) + (r3 >>> 51);
    }

    /** r = a^(p-2) = 1/a (0 for a = 0), Fermat with the usual chain: 254 squarings, 11 multiplications. */
    static void invert(long[] r, long[] a, long[] t0, long[] t1, long[] t2, long[] t3) {
        sqr(t0, a);                 // 2
        sqrN(t1, t0, 2);            // 8
        mul(t1, a, t1);             // 9
        mul(t0, t0, t1);            // 11
        sqr(t2, t0);                // 22
        mul(t1, t1, t2);            // 31 = 2^5 - 1
        sqrN(t2, t1, 5);
        mul(t1, t2, t1);            // 2^10 - 1
        sqrN(t2, t1, 10);
        mul(t2, t2, t1);            // 2^20 - 1
        sqrN(t3, t2, 20);
        mul(t2, t3, t2);            // 2^40 - 1
        sqrN(t2, t2, 10);
        mul(t1, t2, t1);            // 2^50 - 1
        sqrN(t2, t1, 50);
        mul(t2, t2, t1);            // 2^100 - 1
        sqrN(t3, t2, 100);
        mul(t2, t3, t2);            // 2^200 - 1
        sqrN(t2, t2, 50);
        mul(t1, t2, t1);            // 2^250 - 1
        sqrN(t1, t1, 5);            // 2^255 - 2^5
        mul(r, t1, t0);             // 2^255 - 21 = p - 2
    }
}
