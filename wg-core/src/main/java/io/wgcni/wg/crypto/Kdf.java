package io.wgcni.wg.crypto;

import java.util.Arrays;
import java.util.Objects;

/**
 * HMAC-BLAKE2s (RFC 2104 over BLAKE2s-256) and the HKDF-style chain of the WireGuard whitepaper, section 5.4:
 * {@code KDFn(key, input)} = T1..Tn where PRK = HMAC(key, input), T1 = HMAC(PRK, 0x1) and
 * T(i+1) = HMAC(PRK, Ti || i+1).
 *
 * <p>Every output may alias {@code key} or {@code input} (the handshake does {@code kdf1(ck, ck, x)}): both are
 * consumed into the PRK before any output is written. The PRK and every intermediate block are zeroed before
 * returning.
 */
public final class Kdf {
    private static final int BLOCK = 64;
    private static final int LEN = 32;

    private Kdf() {
    }

    /** out32 = HMAC-BLAKE2s(key, data). {@code key} may be any length; one over 64 bytes is hashed first. */
    public static void hmac(byte[] out32, byte[] key, byte[] data) {
        Objects.checkFromIndexSize(0, LEN, out32.length);
        Hmac h = new Hmac();
        h.mac(out32, key, key.length, data, data.length);
        h.wipe();
    }

    public static void kdf1(byte[] t0, byte[] key, byte[] input) {
        derive(key, input, t0, null, null);
    }

    public static void kdf2(byte[] t0, byte[] t1, byte[] key, byte[] input) {
        derive(key, input, t0, Objects.requireNonNull(t1), null);
    }

    public static void kdf3(byte[] t0, byte[] t1, byte[] t2, byte[] key, byte[] input) {
        derive(key, input, t0, Objects.requireNonNull(t1), Objects.requireNonNull(t2));
    }

    private static void derive(byte[] key, byte[] input, byte[] t0, byte[] t1, byte[] t2) {
        // Check every output first so a bad call fails before it half-updates a chaining key.
        checkOut(t0);
        checkOut(t1);
        checkOut(t2);
        Hmac h = new Hmac();
        byte[] prk = new byte[LEN];
        byte[] t = new byte[LEN + 1]; // Ti || i+1: the message that derives T(i+1), overwritten by it
        try {
            h.mac(prk, key, key.length, input, input.length);
            t[0] = 1;
            h.mac(t, prk, LEN, t, 1);
            System.arraycopy(t, 0, t0, 0, LEN);
            if (t1 == null) {
                return;
            }
            t[LEN] = 2;
            h.mac(t, prk, LEN, t, LEN + 1);
            System.arraycopy(t, 0, t1, 0, LEN);
            if (t2 == null) {
                return;
            }
            t[LEN] = 3;
            h.mac(t, prk, LEN, t, LEN + 1);
            System.arraycopy(t, 0, t2, 0, LEN);
        } finally {
            h.wipe();
            Arrays.fill(prk, (byte) 0);
            Arrays.fill(t, (byte) 0);
        }
    }

    private static void checkOut(byte[] out) {
        if (out != null) {
            Objects.checkFromIndexSize(0, LEN, out.length);
        }
    }

    /** One HMAC's working state, reused across the up to four HMACs of a KDF. */
    private static final class Hmac {
        private final Blake2s blake = new Blake2s(LEN);
        private final byte[] pad = new byte[BLOCK];
        private final byte[] inner = new byte[LEN];

        /** {@code out} may alias {@code key} or {@code data}: it is written only by the outer hash's digest. */
        void mac(byte[] out, byte[] key, int keyLen, byte[] data, int dataLen) {
            if (keyLen > BLOCK) {
                blake.update(key, 0, keyLen).digest(pad, 0);
                Arrays.fill(pad, LEN, BLOCK, (byte) 0);
            } else {
                System.arraycopy(key, 0, pad, 0, keyLen);
                Arrays.fill(pad, keyLen, BLOCK, (byte) 0);
            }
            xor(pad, 0x36);
            blake.update(pad, 0, BLOCK).update(data, 0, dataLen).digest(inner, 0);
            xor(pad, 0x36 ^ 0x5c);
            blake.update(pad, 0, BLOCK).update(inner, 0, LEN).digest(out, 0);
        }

        void wipe() {
            blake.wipe();
            Arrays.fill(pad, (byte) 0);
            Arrays.fill(inner, (byte) 0);
        }

        private static void xor(byte[] block, int value) {
            for (int i = 0; i < block.length; i++) {
                block[i] ^= (byte) value;
            }
        }
    }
}
