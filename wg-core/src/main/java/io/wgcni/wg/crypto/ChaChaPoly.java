package io.wgcni.wg.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.util.Objects;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * ChaCha20-Poly1305 (RFC 8439) on the JDK's {@code Cipher}, whose ChaCha20 and Poly1305 are intrinsified on
 * JDK 25. WireGuard's nonce is 4 zero bytes then the 64-bit counter, little-endian (whitepaper section 5.4.6).
 *
 * <p>An instance owns one {@code Cipher} and is not thread-safe: each worker thread keeps its own.
 *
 * <p>The JDK refuses to init a ChaCha20-Poly1305 cipher for encryption with the key and nonce of its previous
 * init ({@code InvalidKeyException}, "Matching key and nonce from previous initialization"). That guard only
 * looks one init back, and nonce uniqueness is WireGuard's job anyway: a fresh key per handshake message, a
 * strictly increasing counter per transport key. Sealing the same message twice under the same key (a test
 * vector run twice, a handshake message rebuilt from the same state) hits it, so that case re-inits once in
 * decrypt mode, which the guard skips, with a different nonce, then retries. The fast path, a new counter per
 * call, is one init and one doFinal.
 */
public final class ChaChaPoly {
    public static final int TAG_LENGTH = 16;
    private static final int NONCE_LENGTH = 12;
    private static final String TRANSFORMATION = "ChaCha20-Poly1305";
    private static final VarHandle LE_LONG =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final ThreadLocal<ChaChaPoly> LOCAL = ThreadLocal.withInitial(ChaChaPoly::new);

    private final Cipher cipher;
    // WireGuard's nonce; IvParameterSpec copies it, so one buffer serves every call.
    private final byte[] nonce = new byte[NONCE_LENGTH];

    public ChaChaPoly() {
        try {
            cipher = Cipher.getInstance(TRANSFORMATION);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no " + TRANSFORMATION, e);
        }
    }

    /** Wraps a 32-byte key for this cipher. The spec copies the bytes, so the caller may wipe its array. */
    public static SecretKey key(byte[] key32) {
        if (key32.length != 32) {
            throw new IllegalArgumentException("a ChaCha20 key is 32 bytes, got " + key32.length);
        }
        return new SecretKeySpec(key32, "ChaCha20");
    }

    /**
     * Encrypts in[inOff..inOff+len) and appends the tag: writes len + 16 bytes to out at outOff and returns that.
     * In-place ({@code in == out}, same offset) works; {@code ad} may be null.
     */
    public int seal(SecretKey key, long counter, byte[] in, int inOff, int len, byte[] out, int outOff, byte[] ad) {
        return seal(key, wireGuardNonce(counter), in, inOff, len, out, outOff, ad);
    }

    /**
     * Decrypts and authenticates in[inOff..inOff+len), len counting the 16-byte tag. Returns the plaintext length
     * (len - 16) written to out at outOff, or -1 when len is under 16 or authentication fails, in which case
     * nothing was written to out. In-place works; {@code ad} may be null.
     */
    public int open(SecretKey key, long counter, byte[] in, int inOff, int len, byte[] out, int outOff, byte[] ad) {
        return open(key, wireGuardNonce(counter), in, inOff, len, out, outOff, ad);
    }

    /** {@link #seal(SecretKey, long, byte[], int, int, byte[], int, byte[])} with an explicit 12-byte nonce. */
    public int seal(SecretKey key, byte[] nonce12, byte[] in, int inOff, int len, byte[] out, int outOff, byte[] ad) {
        checkNonce(nonce12);
        Objects.checkFromIndexSize(inOff, len, in.length);
        Objects.checkFromIndexSize(outOff, len + TAG_LENGTH, out.length);
        IvParameterSpec iv = new IvParameterSpec(nonce12);
        try {
            try {
                cipher.init(Cipher.ENCRYPT_MODE, key, iv);
            } catch (InvalidKeyException reused) {
                initAfterReuse(key, nonce12, iv);
            }
            if (ad != null) {
                cipher.updateAAD(ad);
            }
            return cipher.doFinal(in, inOff, len, out, outOff);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("ChaCha20-Poly1305 seal failed: " + e.getMessage(), e);
        }
    }

    /** {@link #open(SecretKey, long, byte[], int, int, byte[], int, byte[])} with an explicit 12-byte nonce. */
    public int open(SecretKey key, byte[] nonce12, byte[] in, int inOff, int len, byte[] out, int outOff, byte[] ad) {
        checkNonce(nonce12);
        Objects.checkFromIndexSize(inOff, len, in.length);
        if (len < TAG_LENGTH) {
            return -1;
        }
        Objects.checkFromIndexSize(outOff, len - TAG_LENGTH, out.length);
        try {
            cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(nonce12));
            if (ad != null) {
                cipher.updateAAD(ad);
            }
            return cipher.doFinal(in, inOff, len, out, outOff);
        } catch (AEADBadTagException e) {
            return -1;
        } catch (ShortBufferException e) {
            throw new IllegalArgumentException("output buffer too small", e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("ChaCha20-Poly1305 open failed: " + e.getMessage(), e);
        }
    }

    /** Seals with a WireGuard nonce into a new array (handshake use). */
    public static byte[] seal(byte[] key32, long counter, byte[] plaintext, byte[] ad) {
        byte[] out = new byte[plaintext.length + TAG_LENGTH];
        LOCAL.get().seal(key(key32), counter, plaintext, 0, plaintext.length, out, 0, ad);
        return out;
    }

    /** Opens with a WireGuard nonce into a new array; null when the ciphertext is short or not authentic. */
    public static byte[] open(byte[] key32, long counter, byte[] ciphertext, byte[] ad) {
        ChaChaPoly aead = LOCAL.get();
        return open(aead, key(key32), aead.wireGuardNonce(counter), ciphertext, ad);
    }

    static byte[] seal(SecretKey key, byte[] nonce12, byte[] plaintext, byte[] ad) {
        byte[] out = new byte[plaintext.length + TAG_LENGTH];
        LOCAL.get().seal(key, nonce12, plaintext, 0, plaintext.length, out, 0, ad);
        return out;
    }

    static byte[] open(SecretKey key, byte[] nonce12, byte[] ciphertext, byte[] ad) {
        return open(LOCAL.get(), key, nonce12, ciphertext, ad);
    }

    private static byte[] open(ChaChaPoly aead, SecretKey key, byte[] nonce12, byte[] ciphertext, byte[] ad) {
        if (ciphertext.length < TAG_LENGTH) {
            return null;
        }
        byte[] out = new byte[ciphertext.length - TAG_LENGTH];
        return aead.open(key, nonce12, ciphertext, 0, ciphertext.length, out, 0, ad) < 0 ? null : out;
    }

    private byte[] wireGuardNonce(long counter) {
        LE_LONG.set(nonce, 4, counter); // bytes 0..3 stay zero
        return nonce;
    }

    /**
     * The previous encrypt init used this key and nonce. A decrypt init records a different nonce without the
     * guard's check, after which the encrypt init is accepted; a key that is plainly invalid still fails.
     */
    private void initAfterReuse(SecretKey key, byte[] nonce12, IvParameterSpec iv) throws GeneralSecurityException {
        byte[] other = nonce12.clone();
        other[0] ^= 1;
        cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(other));
        cipher.init(Cipher.ENCRYPT_MODE, key, iv);
    }

    private static void checkNonce(byte[] nonce12) {
        if (nonce12.length != NONCE_LENGTH) {
            throw new IllegalArgumentException("a ChaCha20-Poly1305 nonce is 12 bytes, got " + nonce12.length);
        }
    }
}
