package io.wgcni.wg.crypto;

import java.math.BigInteger;
import java.util.Arrays;

/**
 * X25519(k, 9), a public key from a private key, by a fixed-base comb on the twisted Edwards curve that is
 * birationally equivalent to Curve25519 (-x^2 + y^2 = 1 + d x^2 y^2), as ref10's {@code ge_scalarmult_base}:
 * the clamped scalar in 64 signed radix-16 digits, 64 mixed additions of precomputed points and 4 doublings
 * instead of the ladder's 255 steps, then u = (1 + y) / (1 - y).
 *
 * <p>The table holds j 256^i B (j = 1..8, i = 0..31) in the form (y + x, y - x, 2 d x y), affine. It is
 * computed once, with BigInteger, when the class is first used (a few milliseconds); entries are read in constant
 * time (all 8 of a row, kept or dropped by a mask), the digit's sign applied by a masked swap and negation.
 */
final class X25519FixedBase {
    private static final BigInteger P = BigInteger.ONE.shiftLeft(255).subtract(BigInteger.valueOf(19));
    private static final BigInteger D = BigInteger.valueOf(-121665)
            .multiply(BigInteger.valueOf(121666).modInverse(P)).mod(P);
    /** The base point: y = 4/5, x the even root (RFC 8032 section 5.1). */
    private static final BigInteger BY = BigInteger.valueOf(4).multiply(BigInteger.valueOf(5).modInverse(P)).mod(P);
    private static final BigInteger BX = new BigInteger(
            "15112221349535400772501151409588531511454012693041857206046113283949847762202");

    private static final int ROWS = 32;
    private static final int COLS = 8;
    private static final int ELEMENT = Field25519.LIMBS;
    private static final int ENTRY = 3 * ELEMENT;
    /** [row][col][y + x, y - x, 2dxy][limb], flattened. */
    private static final long[] TABLE = table();

    private X25519FixedBase() {
    }

    /** out32 = X25519(k, 9), k clamped as RFC 7748 says. */
    static void scalarMultBase(byte[] out32, byte[] k) {
        byte[] digits = digits(k);
        Work w = new Work();

        // h = identity; h += e[odd] 16^odd B; h *= 16; h += e[even] 16^even B (ref10's order).
        Field25519.zero(w.x);
        Field25519.one(w.y);
        Field25519.one(w.z);
        Field25519.zero(w.t);
        for (int i = 1; i < 64; i += 2) {
            select(w, i >>> 1, digits[i]);
            madd(w);
        }
        for (int i = 0; i < 4; i++) {
            dbl(w);
        }
        for (int i = 0; i < 64; i += 2) {
            select(w, i >>> 1, digits[i]);
            madd(w);
        }

        // u = (Z + Y) / (Z - Y).
        Field25519.add(w.a, w.z, w.y);
        Field25519.sub(w.b, w.z, w.y);
        Field25519.invert(w.b, w.b, w.c, w.d, w.e, w.f);
        Field25519.mul(w.a, w.a, w.b);
        Field25519.encode(out32, 0, w.a);

        Arrays.fill(digits, (byte) 0);
        w.wipe();
    }

    /** The clamped scalar as 64 signed radix-16 digits in [-8, 8], least significant first. */
    private static byte[] digits(byte[] k) {
        byte[] e = new byte[64];
        for (int i = 0; i < 32; i++) {
            int b = k[i] & 0xff;
            if (i == 0) {
                b &= 248;
            } else if (i == 31) {
                b = (b & 127) | 64;
            }
            e[2 * i] = (byte) (b & 15);
            e[2 * i + 1] = (byte) (b >>> 4);
        }
        int carry = 0;
        for (int i = 0; i < 63; i++) {
            int v = e[i] + carry;
            carry = (v + 8) >> 4;
            e[i] = (byte) (v - (carry << 4));
        }
        e[63] += (byte) carry;
        return e;
    }

    /** w.q = b 256^row B as (y + x, y - x, 2dxy), by a constant-time scan of the row. */
    private static void select(Work w, int row, int b) {
        int negative = b >>> 31;                       // 1 if b < 0
        int abs = b - ((-negative & b) << 1);          // |b|
        Field25519.one(w.qp);
        Field25519.one(w.qm);
        Field25519.zero(w.q2d);
        int base = row * COLS * ENTRY;
        for (int j = 1; j <= COLS; j++) {
            long mask = equalMask(abs, j);
            int off = base + (j - 1) * ENTRY;
            cmov(w.qp, TABLE, off, mask);
            cmov(w.qm, TABLE, off + ELEMENT, mask);
            cmov(w.q2d, TABLE, off + 2 * ELEMENT, mask);
        }
        // -(x, y) = (-x, y): swap y + x with y - x and negate 2dxy.
        long neg = -(long) negative;
        Field25519.cswap(w.qp, w.qm, negative);
        Field25519.zero(w.a);
        Field25519.sub(w.a, w.a, w.q2d);
        Field25519.cmov(w.q2d, w.a, neg);
    }

    /** -1 (all ones) if a == b, else 0; a, b in [0, 255]. */
    private static long equalMask(int a, int b) {
        int x = a ^ b;                                 // 0 iff equal
        return (long) ((x - 1) >> 31);                 // x = 0: -1 >> 31 = -1; 1 <= x <= 255: 0
    }

    private static void cmov(long[] r, long[] table, int off, long mask) {
        r[0] ^= mask & (r[0] ^ table[off]);
        r[1] ^= mask & (r[1] ^ table[off + 1]);
        r[2] ^= mask & (r[2] ^ table[off + 2]);
        r[3] ^= mask & (r[3] ^ table[off + 3]);
        r[4] ^= mask & (r[4] ^ table[off + 4]);
    }

    /**
     * (X:Y:Z:T) += the affine point q in (y + x, y - x, 2dxy) form (ref10's ge_madd followed by ge_p1p1_to_p3;
     * "madd-2008-hwcd-3" for a = -1): 7 multiplications.
     */
    private static void madd(Work w) {
        Field25519.add(w.a, w.y, w.x);             // Y + X
        Field25519.sub(w.b, w.y, w.x);             // Y - X
        Field25519.mul(w.a, w.a, w.qp);            // A = (Y + X)(y + x)
        Field25519.mul(w.b, w.b, w.qm);            // B = (Y - X)(y - x)
        Field25519.mul(w.c, w.t, w.q2d);           // C = T 2dxy
        Field25519.add(w.d, w.z, w.z);             // D = 2Z
        Field25519.sub(w.e, w.a, w.b);             // E = A - B
        Field25519.add(w.f, w.a, w.b);             // H = A + B
        Field25519.add(w.a, w.d, w.c);             // G = D + C
        Field25519.sub(w.b, w.d, w.c);             // F = D - C
        Field25519.mul(w.x, w.e, w.b);             // X = E F
        Field25519.mul(w.y, w.a, w.f);             // Y = G H
        Field25519.mul(w.z, w.b, w.a);             // Z = F G
        Field25519.mul(w.t, w.e, w.f);             // T = E H
    }

    /**
     * (X:Y:Z:T) = 2 (X:Y:Z:T) ("dbl-2008-hwcd" for a = -1): 4 squarings, 4 multiplications. With A = X^2,
     * B = Y^2, C = 2 Z^2, E = (X + Y)^2 - A - B, G = B - A, F = G - C, H = -A - B the result is (E F, G H, F G,
     * E H); computed here as products of negated factors, (-E)(-F), (-G)(-H), (-F)(-G), (-E)(-H), so that every
     * subtraction has a reduced right-hand side.
     */
    private static void dbl(Work w) {
        Field25519.sqr(w.a, w.x);                  // A
        Field25519.sqr(w.b, w.y);                  // B
        Field25519.sqr(w.c, w.z);
        Field25519.add(w.c, w.c, w.c);
        Field25519.carry(w.c, w.c);                // C = 2 Z^2, reduced
        Field25519.add(w.d, w.x, w.y);
        Field25519.sqr(w.d, w.d);                  // (X + Y)^2
        Field25519.add(w.e, w.a, w.b);             // -H = A + B
        Field25519.sub(w.f, w.e, w.d);             // -E = A + B - (X + Y)^2
        Field25519.add(w.c, w.c, w.a);
        Field25519.sub(w.c, w.c, w.b);             // -F = C - G = C + A - B
        Field25519.sub(w.a, w.a, w.b);             // -G = A - B
        Field25519.mul(w.x, w.f, w.c);             // X = E F
        Field25519.mul(w.y, w.a, w.e);             // Y = G H
        Field25519.mul(w.z, w.c, w.a);             // Z = F G
        Field25519.mul(w.t, w.f, w.e);             // T = E H
    }

    /** Temporaries, one set per call. */
    private static final class Work {
        final long[] x = Field25519.create();
        final long[] y = Field25519.create();
        final long[] z = Field25519.create();
        final long[] t = Field25519.create();
        final long[] qp = Field25519.create();
        final long[] qm = Field25519.create();
        final long[] q2d = Field25519.create();
        final long[] a = Field25519.create();
        final long[] b = Field25519.create();
        final long[] c = Field25519.create();
        final long[] d = Field25519.create();
        final long[] e = Field25519.create();
        final long[] f = Field25519.create();

        void wipe() {
            for (long[] v : new long[][] {x, y, z, t, qp, qm, q2d, a, b, c, d, e, f}) {
                Field25519.zero(v);
            }
        }
    }

    // ---- The table, computed once in affine coordinates with BigInteger (public data, no timing concern). ----

    private static long[] table() {
        long[] table = new long[ROWS * COLS * ENTRY];
        BigInteger[] rowBase = {BX, BY};
        for (int i = 0; i < ROWS; i++) {
            BigInteger[] p = rowBase;
            for (int j = 1; j <= COLS; j++) {
                int off = (i * COLS + j - 1) * ENTRY;
                BigInteger x = p[0];
                BigInteger y = p[1];
                limbs(table, off, y.add(x).mod(P));
                limbs(table, off + ELEMENT, y.subtract(x).mod(P));
                limbs(table, off + 2 * ELEMENT, D.shiftLeft(1).multiply(x).multiply(y).mod(P));
                p = add(p, rowBase);
            }
            for (int k = 0; k < 8; k++) {
                rowBase = add(rowBase, rowBase);     // 256 times the row's base
            }
        }
        return table;
    }

    /** Affine addition on -x^2 + y^2 = 1 + d x^2 y^2 (complete: the denominators are never 0 on the curve). */
    private static BigInteger[] add(BigInteger[] p, BigInteger[] q) {
        BigInteger x1 = p[0];
        BigInteger y1 = p[1];
        BigInteger x2 = q[0];
        BigInteger y2 = q[1];
        BigInteger dxy = D.multiply(x1).multiply(x2).multiply(y1).multiply(y2).mod(P);
        BigInteger x3 = x1.multiply(y2).add(y1.multiply(x2))
                .multiply(BigInteger.ONE.add(dxy).modInverse(P)).mod(P);
        BigInteger y3 = y1.multiply(y2).add(x1.multiply(x2))
                .multiply(BigInteger.ONE.subtract(dxy).mod(P).modInverse(P)).mod(P);
        return new BigInteger[] {x3, y3};
    }

    private static void limbs(long[] out, int off, BigInteger v) {
        for (int i = 0; i < ELEMENT; i++) {
            out[off + i] = v.shiftRight(51 * i).longValue() & ((1L << 51) - 1);
        }
    }
}
