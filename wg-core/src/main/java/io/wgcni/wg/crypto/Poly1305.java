package io.wgcni.wg.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Poly1305 (RFC 8439 section 2.5), the one-time authenticator of ChaCha20-Poly1305, in radix 2^64: the accumulator
 * h is two 64-bit limbs and a few bits above 2^128 (h0, h1, h2), the clamped key half r two 64-bit limbs. A block
 * costs four 64x64-to-128-bit products ({@code a * b} for the low half, {@link Math#unsignedMultiplyHigh} for the
 * high half, both intrinsics) and two small ones. r's clamping makes r1 a multiple of 4, so the term h1 * r1 * 2^128
 * folds back as h1 * (5 * r1 / 4) = h1 * (r1 + (r1 >> 2)) (2^130 = 5 mod p). Carries come from
 * {@link Long#compareUnsigned} (measured faster than the branch-free bit formula, which remains for the one
 * three-input sum). Java has no add-with-carry, so a block is a dependency chain of ~25 cycles: latency-bound, not
 * multiplier-bound.
 *
 * <p>Chosen by measurement (benchmarks/RESULTS.md, section 1) over poly1305-donna-64's three 44/44/42-bit limbs
 * (nine 128-bit products per block, multiplier-bound, even when two blocks are multiplied at once by r^2 and r) and
 * poly1305-donna-32's five 26-bit limbs (25 products): on the AMD EPYC (Zen 3) it was measured on, about 0.9 µs for
 * 1440 bytes (1.6 GB/s) against 1.05 (donna-64, two blocks at a time), 1.15 (donna-64) and 1.3 µs (donna-32).
 *
 * <p>Incremental and allocation-free: {@link #init}, any number of {@link #update}s, then {@link #finish}. An
 * instance is reused for every message (init resets it) and is not thread-safe. {@link #pad16} zero-pads what was
 * absorbed so far to a multiple of 16 bytes and {@link #updateWords} absorbs one block given as two longs, as
 * ChaCha20-Poly1305 (RFC 8439 section 2.8) needs for its padding and its length block.
 */
final class Poly1305 {
    static final int KEY_LENGTH = 32;
    static final int TAG_LENGTH = 16;

    private static final VarHandle LE_LONG =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    // r (clamped), s1 = 5 * r1 / 4, and s, the second key half, added at the end.
    private long r0, r1, s1;
    private long pad0, pad1;
    // h = h0 + h1 * 2^64 + h2 * 2^128, h2 at most 4 between blocks (h congruent mod p, not reduced below p).
    private long h0, h1, h2;

    private final byte[] buffer = new byte[16];
    private final byte[] words = new byte[16];
    private int buffered;

    /** Starts a new MAC under the 32-byte one-time key key[off..off+32): r (clamped) then s. */
    void init(byte[] key, int off) {
        Objects.checkFromIndexSize(off, KEY_LENGTH, key.length);
        r0 = (long) LE_LONG.get(key, off) & 0x0fff_fffc_0fff_ffffL;
        r1 = (long) LE_LONG.get(key, off + 8) & 0x0fff_fffc_0fff_fffcL;
        s1 = r1 + (r1 >>> 2);
        pad0 = (long) LE_LONG.get(key, off + 16);
        pad1 = (long) LE_LONG.get(key, off + 24);
        h0 = 0;
        h1 = 0;
        h2 = 0;
        buffered = 0;
    }

    /** Absorbs in[off..off+len). */
    void update(byte[] in, int off, int len) {
        Objects.checkFromIndexSize(off, len, in.length);
        if (buffered > 0) {
            int take = Math.min(16 - buffered, len);
            System.arraycopy(in, off, buffer, buffered, take);
            buffered += take;
            off += take;
            len -= take;
            if (buffered < 16) {
                return;
            }
            blocks(buffer, 0, 16, 1);
            buffered = 0;
        }
        int full = len & ~15;
        if (full > 0) {
            blocks(in, off, full, 1);
        }
        if (full < len) {
            System.arraycopy(in, off + full, buffer, 0, len - full);
            buffered = len - full;
        }
    }

    /** Absorbs zero bytes up to the next multiple of 16 of everything absorbed since init (none if already one). */
    void pad16() {
        if (buffered > 0) {
            for (int i = buffered; i < 16; i++) {
                buffer[i] = 0;
            }
            blocks(buffer, 0, 16, 1);
            buffered = 0;
        }
    }

    /** Absorbs 16 bytes: a then b, each as 8 little-endian bytes (ChaCha20-Poly1305's length block). */
    void updateWords(long a, long b) {
        LE_LONG.set(words, 0, a);
        LE_LONG.set(words, 8, b);
        update(words, 0, 16);
    }

    /** Writes the 16-byte tag to out[off..off+16). The instance needs a new {@link #init} afterwards. */
    void finish(byte[] out, int off) {
        Objects.checkFromIndexSize(off, TAG_LENGTH, out.length);
        if (buffered > 0) {
            // The last partial block: its bytes, then 0x01, then zeros, without the bit at 2^128.
            buffer[buffered] = 1;
            for (int i = buffered + 1; i < 16; i++) {
                buffer[i] = 0;
            }
            blocks(buffer, 0, 16, 0);
            buffered = 0;
        }
        long h0 = this.h0, h1 = this.h1, h2 = this.h2;
        // Fold the bits at 2^130 and up once more: h < 2^130 + 5 * 2^3.
        long c = (h2 >>> 2) * 5;
        h2 &= 3;
        h0 += c;
        c = carry(h0, c);
        h1 += c;
        c = carry(h1, c);
        h2 += c;
        // g = h + 5 = h - p + 2^130: when g reaches 2^130, h >= p and the tag is g mod 2^128. Constant time.
        long g0 = h0 + 5;
        c = carry(g0, 5);
        long g1 = h1 + c;
        c = carry(g1, c);
        long useG = -((h2 + c) >>> 2);
        h0 = (h0 & ~useG) | (g0 & useG);
        h1 = (h1 & ~useG) | (g1 & useG);
        // tag = (h + s) mod 2^128
        long t0 = h0 + pad0;
        c = carry(t0, pad0);
        LE_LONG.set(out, off, t0);
        LE_LONG.set(out, off + 8, h1 + pad1 + c);
        // Forget the one-time key and the state.
        r0 = 0;
        r1 = 0;
        s1 = 0;
        pad0 = 0;
        pad1 = 0;
        this.h0 = 0;
        this.h1 = 0;
        this.h2 = 0;
    }

    /** The carry out of {@code sum = x + addend}: 1 when the unsigned sum wrapped. */
    private static long carry(long sum, long addend) {
        return Long.compareUnsigned(sum, addend) < 0 ? 1 : 0;
    }

    /** h = (h + m + hibit * 2^128) * r mod p for each 16-byte block m of in[off..off+len), len a multiple of 16. */
    private void blocks(byte[] in, int off, int len, long hibit) {
        long r0 = this.r0, r1 = this.r1, s1 = this.s1;
        long h0 = this.h0, h1 = this.h1, h2 = this.h2;
        for (int end = off + len; off < end; off += 16) {
            long m0 = (long) LE_LONG.get(in, off);
            long m1 = (long) LE_LONG.get(in, off + 8);
            long t = h0 + m0;
            long c = carry(t, m0);
            h0 = t;
            t = h1 + m1 + c;
            c = ((h1 & m1) | ((h1 | m1) & ~t)) >>> 63; // the carry out of a three-input sum
            h1 = t;
            h2 += c + hibit; // at most 6

            // d0 = h0 r0 + h1 s1, d1 = h0 r1 + h1 r0 + h2 s1 (below 2^126 each), d2 = h2 r0: at 2^0, 2^64, 2^128.
            long d0lo = h0 * r0;
            long d0hi = Math.unsignedMultiplyHigh(h0, r0);
            long lo = h1 * s1;
            d0lo += lo;
            d0hi += Math.unsignedMultiplyHigh(h1, s1) + carry(d0lo, lo);
            long d1lo = h0 * r1;
            long d1hi = Math.unsignedMultiplyHigh(h0, r1);
            lo = h1 * r0;
            d1lo += lo;
            d1hi += Math.unsignedMultiplyHigh(h1, r0) + carry(d1lo, lo);
            lo = h2 * s1;
            d1lo += lo;
            d1hi += carry(d1lo, lo);

            // h = d0lo + (d0hi + d1lo) 2^64 + (d1hi + d2) 2^128; then 5 * (h >> 130) back into h mod 2^130.
            h0 = d0lo;
            h1 = d0hi + d1lo;
            h2 = d1hi + h2 * r0 + carry(h1, d1lo);
            c = (h2 & ~3L) + (h2 >>> 2);
            h2 &= 3;
            h0 += c;
            c = carry(h0, c);
            h1 += c;
            h2 += carry(h1, c); // at most 4
        }
        this.h0 = h0;
        this.h1 = h1;
        this.h2 = h2;
    }
}
