package io.wgcni.wg.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import javax.crypto.SecretKey;

/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03), WireGuard's AEAD for cookie replies: HChaCha20 turns the key
 * and the first 16 bytes of the 24-byte nonce into a subkey, which seals with ChaCha20-Poly1305 under the nonce
 * 4 zero bytes || nonce[16..24).
 */
public final class XChaChaPoly {
    private static final VarHandle LE_INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int NONCE_LENGTH = 24;

    private XChaChaPoly() {
    }

    public static byte[] seal(byte[] key32, byte[] nonce24, byte[] plaintext, byte[] ad) {
        checkNonce(nonce24);
        byte[] subkey = new byte[32];
        hChaCha20(subkey, key32, nonce24);
        SecretKey key = ChaChaPoly.key(subkey);
        Arrays.fill(subkey, (byte) 0);
        return ChaChaPoly.seal(key, chaChaNonce(nonce24), plaintext, ad);
    }

    /** Null when the ciphertext is shorter than a tag or not authentic. */
    public static byte[] open(byte[] key32, byte[] nonce24, byte[] ciphertext, byte[] ad) {
        checkNonce(nonce24);
        byte[] subkey = new byte[32];
        hChaCha20(subkey, key32, nonce24);
        SecretKey key = ChaChaPoly.key(subkey);
        Arrays.fill(subkey, (byte) 0);
        return ChaChaPoly.open(key, chaChaNonce(nonce24), ciphertext, ad);
    }

    /**
     * out32 = HChaCha20(key32, nonce[0..16)): the 20 ChaCha rounds over the constants, the key and the 16 nonce
     * bytes, without the final feed-forward addition, keeping words 0..3 and 12..15.
     */
    static void hChaCha20(byte[] out32, byte[] key32, byte[] nonce16) {
        if (key32.length != 32) {
            throw new IllegalArgumentException("an XChaCha20 key is 32 bytes, got " + key32.length);
        }
        int x0 = 0x61707865, x1 = 0x3320646e, x2 = 0x79622d32, x3 = 0x6b206574; // "expand 32-byte k"
        int x4 = word(key32, 0), x5 = word(key32, 4), x6 = word(key32, 8), x7 = word(key32, 12);
        int x8 = word(key32, 16), x9 = word(key32, 20), x10 = word(key32, 24), x11 = word(key32, 28);
        int x12 = word(nonce16, 0), x13 = word(nonce16, 4), x14 = word(nonce16, 8), x15 = word(nonce16, 12);
        for (int i = 0; i < 10; i++) {
            // Columns.
            x0 += x4; x12 = Integer.rotateLeft(x12 ^ x0, 16); x8 += x12; x4 = Integer.rotateLeft(x4 ^ x8, 12);
            x0 += x4; x12 = Integer.rotateLeft(x12 ^ x0, 8);  x8 += x12; x4 = Integer.rotateLeft(x4 ^ x8, 7);
            x1 += x5; x13 = Integer.rotateLeft(x13 ^ x1, 16); x9 += x13; x5 = Integer.rotateLeft(x5 ^ x9, 12);
            x1 += x5; x13 = Integer.rotateLeft(x13 ^ x1, 8);  x9 += x13; x5 = Integer.rotateLeft(x5 ^ x9, 7);
            x2 += x6; x14 = Integer.rotateLeft(x14 ^ x2, 16); x10 += x14; x6 = Integer.rotateLeft(x6 ^ x10, 12);
            x2 += x6; x14 = Integer.rotateLeft(x14 ^ x2, 8);  x10 += x14; x6 = Integer.rotateLeft(x6 ^ x10, 7);
            x3 += x7; x15 = Integer.rotateLeft(x15 ^ x3, 16); x11 += x15; x7 = Integer.rotateLeft(x7 ^ x11, 12);
            x3 += x7; x15 = Integer.rotateLeft(x15 ^ x3, 8);  x11 += x15; x7 = Integer.rotateLeft(x7 ^ x11, 7);
            // Diagonals.
            x0 += x5; x15 = Integer.rotateLeft(x15 ^ x0, 16); x10 += x15; x5 = Integer.rotateLeft(x5 ^ x10, 12);
            x0 += x5; x15 = Integer.rotateLeft(x15 ^ x0, 8);  x10 += x15; x5 = Integer.rotateLeft(x5 ^ x10, 7);
            x1 += x6; x12 = Integer.rotateLeft(x12 ^ x1, 16); x11 += x12; x6 = Integer.rotateLeft(x6 ^ x11, 12);
            x1 += x6; x12 = Integer.rotateLeft(x12 ^ x1, 8);  x11 += x12; x6 = Integer.rotateLeft(x6 ^ x11, 7);
            x2 += x7; x13 = Integer.rotateLeft(x13 ^ x2, 16); x8 += x13; x7 = Integer.rotateLeft(x7 ^ x8, 12);
            x2 += x7; x13 = Integer.rotateLeft(x13 ^ x2, 8);  x8 += x13; x7 = Integer.rotateLeft(x7 ^ x8, 7);
            x3 += x4; x14 = Integer.rotateLeft(x14 ^ x3, 16); x9 += x14; x4 = Integer.rotateLeft(x4 ^ x9, 12);
            x3 += x4; x14 = Integer.rotateLeft(x14 ^ x3, 8);  x9 += x14; x4 = Integer.rotateLeft(x4 ^ x9, 7);
        }
        LE_INT.set(out32, 0, x0);
        LE_INT.set(out32, 4, x1);
        LE_INT.set(out32, 8, x2);
        LE_INT.set(out32, 12, x3);
        LE_INT.set(out32, 16, x12);
        LE_INT.set(out32, 20, x13);
        LE_INT.set(out32, 24, x14);
        LE_INT.set(out32, 28, x15);
    }

    private static int word(byte[] b, int off) {
        return (int) LE_INT.get(b, off);
    }

    private static byte[] chaChaNonce(byte[] nonce24) {
        byte[] nonce12 = new byte[12];
        System.arraycopy(nonce24, 16, nonce12, 4, 8);
        return nonce12;
    }

    private static void checkNonce(byte[] nonce24) {
        if (nonce24.length != NONCE_LENGTH) {
            throw new IllegalArgumentException("an XChaCha20 nonce is 24 bytes, got " + nonce24.length);
        }
    }
}
