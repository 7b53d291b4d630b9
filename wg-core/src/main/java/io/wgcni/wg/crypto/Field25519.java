package io.wgcni.wg.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Arithmetic modulo p = 2^255 - 19 for {@link X25519}: radix 2^51, an element is a {@code long[5]} holding
 * {@code f[0] + f[1] 2^51 + f[2] 2^102 + f[3] 2^153 + f[4] 2^204}, unsigned limbs, not necessarily reduced.
 *
 * <p><b>Products.</b> Java has no 128-bit type. {@link #sqr} takes each 64x64-bit limb product p = a b in two
 * pieces with two intrinsics: x = a << 6 and y = b << 7 make x y = p 2^13, so {@code Math.multiplyHigh(x, y)}
 * (one {@code imul}) is exactly floor(p / 2^51), and {@code (x * y) >>> 13} is exactly p mod 2^51. A column of the
 * schoolbook product sums the high pieces (h) and the low pieces (l) separately, with no carry to detect.
 * {@link #mul} gets the same l and h per column from one wrapping {@code long} product per limb pair and a
 * {@code double} estimate of the high part (see there). Either way limb k of the 9-limb product is l_k + h_(k-1),
 * and limbs 5..9 fold onto 0..4 times 19 (2^255 = 19 mod p). A multiplication is 25 limb products, a squaring 15
 * (squares and doubled cross terms), against 100 32x32-bit products for the usual 10-limb radix 2^25.5 (ref10,
 * BouncyCastle's X25519Field).
 *
 * <p><b>Bounds.</b> "Reduced" here means every limb below 2^51 + 2^24 (not the canonical value: that is only
 * computed by {@link #encode}). {@link #mul}, {@link #sqr} and {@link #sqrN} take inputs with limbs below
 * B = 3 2^52 (so x and y stay below 2^63) and return reduced elements; {@link #mulSmall} takes limbs below 2^53.
 * {@link #add} of two reduced elements, or of an element below 2^52 and a reduced one, is below B, and so is
 * {@link #sub} a - b for a below 2^52 + 2^25 and b reduced. With limbs below B a column's value is at most 5 B^2
 * < 2^109.5 (five products, or two doubled cross terms and a square), so its h is below 2^58.5 and its l below
 * 5 2^51, and a folded limb l_k + h_(k-1) + 19 (l_(k+5) + h_(k+4)) is below 20 (2^53.4 + 2^58.5) < 2^62.9: no
 * overflow (the carries shift unsigned, so even 2^64 would do). One parallel carry round then brings every limb
 * below 2^51 + 2^16.
 *
 * <p>Everything is constant time: no branch and no memory address depends on the values.
 */
final class Field25519 {
    static final int LIMBS = 5;
    private static final long M = (1L << 51) - 1;
    private static final double TWO_M64 = 0x1p-64;
    /** 1.5 2^52: x + ROUND has x rounded to an integer in its low mantissa bits, for |x| < 2^51. */
    private static final double ROUND = 0x1.8p52;
    private static final long ROUND_BITS = Double.doubleToRawLongBits(ROUND);
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

    /** r = a - b + 2p (no carry): limbs stay positive because b is reduced, so below 2p's limbs. */
    static void sub(long[] r, long[] a, long[] b) {
        r[0] = a[0] + 0xFFFFFFFFFFFDAL - b[0];
        r[1] = a[1] + 0xFFFFFFFFFFFFEL - b[1];
        r[2] = a[2] + 0xFFFFFFFFFFFFEL - b[2];
        r[3] = a[3] + 0xFFFFFFFFFFFFEL - b[3];
        r[4] = a[4] + 0xFFFFFFFFFFFFEL - b[4];
    }

    /** r = a if {@code mask} is all ones, r unchanged if it is 0, without a branch. */
    static void cmov(long[] r, long[] a, long mask) {
        r[0] ^= mask & (r[0] ^ a[0]);
        r[1] ^= mask & (r[1] ^ a[1]);
        r[2] ^= mask & (r[2] ^ a[2]);
        r[3] ^= mask & (r[3] ^ a[3]);
        r[4] ^= mask & (r[4] ^ a[4]);
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

    /**
     * The start of a ladder step, fused: (x2, z2) and (x3, z3) swapped if {@code swap} is 1 (without a branch, and
     * without writing the swapped values back: the step overwrites all four), then a = x2 + z2, b = x2 - z2,
     * c = x3 + z3, d = x3 - z3 as {@link #add} and {@link #sub} compute them.
     */
    static void cswapSumDiff(long[] x2, long[] z2, long[] x3, long[] z3, long swap,
            long[] a, long[] b, long[] c, long[] d) {
        long mask = -swap;
        for (int i = 0; i < LIMBS; i++) {
            long twoP = i == 0 ? 0xFFFFFFFFFFFDAL : 0xFFFFFFFFFFFFEL;
            long u2 = x2[i];
            long u3 = x3[i];
            long t = mask & (u2 ^ u3);
            u2 ^= t;
            u3 ^= t;
            long w2 = z2[i];
            long w3 = z3[i];
            t = mask & (w2 ^ w3);
            w2 ^= t;
            w3 ^= t;
            a[i] = u2 + w2;
            b[i] = u2 + twoP - w2;
            c[i] = u3 + w3;
            d[i] = u3 + twoP - w3;
        }
    }

    /** r = a * c + b for a constant 0 <= c < 2^17, a's limbs below 2^53, b reduced: r's limbs below 2^52 + 2^25. */
    static void mulSmallAdd(long[] r, long[] a, long c, long[] b) {
        long a0 = a[0];
        long a1 = a[1];
        long a2 = a[2];
        long a3 = a[3];
        long a4 = a[4];
        long c7 = c << 7;
        long h0 = Math.multiplyHigh(a0 << 6, c7);
        long h1 = Math.multiplyHigh(a1 << 6, c7);
        long h2 = Math.multiplyHigh(a2 << 6, c7);
        long h3 = Math.multiplyHigh(a3 << 6, c7);
        long h4 = Math.multiplyHigh(a4 << 6, c7);
        r[0] = ((a0 * c) & M) + 19 * h4 + b[0];
        r[1] = ((a1 * c) & M) + h0 + b[1];
        r[2] = ((a2 * c) & M) + h1 + b[2];
        r[3] = ((a3 * c) & M) + h2 + b[3];
        r[4] = ((a4 * c) & M) + h3 + b[4];
    }

    /** r = a * c for a constant 0 <= c < 2^17 (121665 in the ladder), a's limbs below 2^53. */
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

    /**
     * r = a * b. r may be a or b.
     *
     * <p>Each column takes a different route than {@link #sqr}'s: the exact low 64 bits of its value V from plain
     * wrapping {@code long} products (s = V mod 2^64, read as signed), and V / 2^64 approximately from
     * {@code double} products, which run beside the integer multiplier. k = round((V_approx - s) / 2^64) is then
     * the exact integer (V - s) / 2^64, so V = k 2^64 + s: low 51 bits {@code s & M}, the rest
     * {@code (k << 13) + (s >> 51)}. That is 25 integer multiplications instead of 50 (measured about 13% faster
     * than {@code multiplyHigh} for every product).
     *
     * <p>Why the rounding is exact: limbs below B = 3 2^52 make a product below 2^107.2 and V below 2^109.5. In
     * units of 2^64, each product is computed from operands rounded to 53 bits and rounded once more itself:
     * error at most 3 2^-53 2^43.2 = 2^-8.2, five of them 2^-5.9; four additions of partial sums below 2^45.5,
     * each rounding by at most 2^-7.5, 2^-5.5 together; s's conversion 2^-54 and the subtraction 2^-7.5. In all
     * less than 0.05, far from the 0.5 that would round to the wrong k. Adding 1.5 2^52 rounds a double below 2^51
     * in magnitude to the nearest integer in its low mantissa bits. No value is subnormal (a nonzero limb scaled by
     * 2^-64 is at least 2^-64), so the floating-point operations take the same time for every input, and Java's
     * strict IEEE 754 semantics (no fused multiply-add behind the program's back) make the bound hold everywhere.
     */
    static void mul(long[] r, long[] a, long[] b) {
        long a0 = a[0];
        long a1 = a[1];
        long a2 = a[2];
        long a3 = a[3];
        long a4 = a[4];
        long b0 = b[0];
        long b1 = b[1];
        long b2 = b[2];
        long b3 = b[3];
        long b4 = b[4];
        double da0 = (double) a0 * TWO_M64;
        double da1 = (double) a1 * TWO_M64;
        double da2 = (double) a2 * TWO_M64;
        double da3 = (double) a3 * TWO_M64;
        double da4 = (double) a4 * TWO_M64;
        double db0 = (double) b0;
        double db1 = (double) b1;
        double db2 = (double) b2;
        double db3 = (double) b3;
        double db4 = (double) b4;
        long s;
        double f;
        long k;
        // column 0
        s = a0 * b0;
        f = da0 * db0;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l0 = s & M;
        long h0 = (k << 13) + (s >> 51);
        // column 1
        s = a0 * b1 + a1 * b0;
        f = da0 * db1 + da1 * db0;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l1 = s & M;
        long h1 = (k << 13) + (s >> 51);
        // column 2
        s = a0 * b2 + a1 * b1 + a2 * b0;
        f = da0 * db2 + da1 * db1 + da2 * db0;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l2 = s & M;
        long h2 = (k << 13) + (s >> 51);
        // column 3
        s = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0;
        f = da0 * db3 + da1 * db2 + da2 * db1 + da3 * db0;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l3 = s & M;
        long h3 = (k << 13) + (s >> 51);
        // column 4
        s = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0;
        f = da0 * db4 + da1 * db3 + da2 * db2 + da3 * db1 + da4 * db0;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l4 = s & M;
        long h4 = (k << 13) + (s >> 51);
        // column 5
        s = a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1;
        f = da1 * db4 + da2 * db3 + da3 * db2 + da4 * db1;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l5 = s & M;
        long h5 = (k << 13) + (s >> 51);
        // column 6
        s = a2 * b4 + a3 * b3 + a4 * b2;
        f = da2 * db4 + da3 * db3 + da4 * db2;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l6 = s & M;
        long h6 = (k << 13) + (s >> 51);
        // column 7
        s = a3 * b4 + a4 * b3;
        f = da3 * db4 + da4 * db3;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l7 = s & M;
        long h7 = (k << 13) + (s >> 51);
        // column 8
        s = a4 * b4;
        f = da4 * db4;
        k = Double.doubleToRawLongBits(f - (double) s * TWO_M64 + ROUND) - ROUND_BITS;
        long l8 = s & M;
        long h8 = (k << 13) + (s >> 51);

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

    /** r = a with one carry round: any limbs below 2^63 in, reduced out. */
    static void carry(long[] r, long[] a) {
        reduce(r, a[0], a[1], a[2], a[3], a[4]);
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
