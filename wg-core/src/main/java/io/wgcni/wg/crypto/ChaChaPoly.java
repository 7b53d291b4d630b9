package io.wgcni.wg.crypto;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.util.Arrays;
import java.util.Objects;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.ChaCha20ParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * ChaCha20-Poly1305 (RFC 8439). WireGuard's nonce is 4 zero bytes then the 64-bit counter, little-endian
 * (whitepaper section 5.4.6).
 *
 * <p>Two implementations, chosen once per JVM (see {@link AeadChoice}):
 * <ul>
 * <li>{@code jdk}: the JDK's {@code "ChaCha20-Poly1305"} {@code Cipher}. Fast where HotSpot intrinsifies both halves
 * (x86-64 with AVX-512 IFMA or AVX-IFMA, AArch64). Elsewhere its Poly1305 runs as plain Java
 * ({@code IntegerPolynomial1305}, ~3 of the ~4-5 µs of a 1420-byte seal on an AVX2-only AMD EPYC), and every
 * message allocates ~2.2 KB.
 * <li>{@code own}: the keystream from the JDK's plain {@code "ChaCha20"} {@code Cipher} (its intrinsic needs only
 * AVX2 or ASIMD), the MAC from wg-core's {@link Poly1305}, the construction of RFC 8439 section 2.8 done here: one
 * cipher init per message with block counter 0; the first 64 keystream bytes (block 0) give the one-time Poly1305
 * key (section 2.6) and the stream continues with block 1 for the payload; the tag is Poly1305 over
 * AAD || pad16 || ciphertext || pad16 || le64(AAD length) || le64(ciphertext length). Opening authenticates the
 * ciphertext first and decrypts only after the tags compared equal (in constant time), so a failed open writes
 * nothing, in place or not. The stream cipher is always initialised in {@code DECRYPT_MODE}: for a stream cipher it
 * is the same XOR, and the JDK's "Matching key and nonce from previous initialization" refusal is for
 * {@code ENCRYPT_MODE} only, so sealing the same message twice needs no detour.
 * </ul>
 *
 * <p>The system property {@code wgcni.aead} ({@code jdk} or {@code own}, read once when this class initialises)
 * overrides the choice, e.g. {@code -Dwgcni.aead=jdk}; otherwise {@code jdk} is taken only where the JDK's Poly1305 is
 * intrinsified. Both produce the same bytes. On that AMD EPYC, {@code own} seals and opens 1420-byte packets about
 * twice as fast as {@code jdk} (~2.4 against ~5 µs), 64-byte ones three times (benchmarks/RESULTS.md, section 1).
 *
 * <p>An instance is not thread-safe: each worker thread keeps its own. It holds its cipher and MAC state and
 * scratch buffers, so a seal or open allocates nothing of its own; the JDK's {@code Cipher.init} still copies the key
 * ({@code SecretKey.getEncoded()}) and the nonce (128 B per message in all for {@code own}).
 */
public final class ChaChaPoly {
    public static final int TAG_LENGTH = 16;
    private static final int NONCE_LENGTH = 12;
    private static final VarHandle LE_LONG =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** The two implementations; see the class comment. */
    enum Impl {
        JDK, OWN
    }

    /** The implementation of {@link #ChaChaPoly()} and of the static methods, fixed at class initialisation. */
    static final Impl DEFAULT = chooseDefault();

    private static final ThreadLocal<ChaChaPoly> LOCAL = ThreadLocal.withInitial(ChaChaPoly::new);

    private final Engine engine;
    // WireGuard's nonce; the JDK's parameter specs copy it, so one buffer serves every call.
    private final byte[] nonce = new byte[NONCE_LENGTH];

    /** An instance of the implementation chosen for this JVM ({@link #DEFAULT}). */
    public ChaChaPoly() {
        this(DEFAULT);
    }

    /** An instance of the given implementation (tests and benchmarks compare them). */
    ChaChaPoly(Impl impl) {
        engine = switch (impl) {
            case JDK -> new JdkEngine();
            case OWN -> new OwnEngine();
        };
    }

    Impl impl() {
        return engine instanceof JdkEngine ? Impl.JDK : Impl.OWN;
    }

    /**
     * Makes the static methods ({@link #seal(byte[], long, byte[], byte[])} and the others, which use a per-thread
     * instance) use {@code impl} on the calling thread from now on; {@code null} goes back to {@link #DEFAULT}.
     * For tests, which run the same cases against both implementations.
     */
    static void useOnThisThread(Impl impl) {
        if (impl == null) {
            LOCAL.remove();
        } else {
            LOCAL.set(new ChaChaPoly(impl));
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
        try {
            return engine.seal(key, nonce12, in, inOff, len, out, outOff, ad);
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
            return engine.open(key, nonce12, in, inOff, len, out, outOff, ad);
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

    private static void checkNonce(byte[] nonce12) {
        if (nonce12.length != NONCE_LENGTH) {
            throw new IllegalArgumentException("a ChaCha20-Poly1305 nonce is 12 bytes, got " + nonce12.length);
        }
    }

    private static Impl chooseDefault() {
        try {
            return AeadChoice.choose();
        } catch (LinkageError e) { // a runtime without java.management / jdk.management or slf4j
            return Impl.OWN;
        }
    }

    private static Cipher cipher(String transformation) {
        try {
            return Cipher.getInstance(transformation);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no " + transformation, e);
        }
    }

    /** Arguments are checked by the caller; {@code open} returns -1 on a bad tag. */
    private abstract static sealed class Engine permits JdkEngine, OwnEngine {
        abstract int seal(SecretKey key, byte[] nonce12, byte[] in, int inOff, int len, byte[] out, int outOff,
                byte[] ad) throws GeneralSecurityException;

        abstract int open(SecretKey key, byte[] nonce12, byte[] in, int inOff, int len, byte[] out, int outOff,
                byte[] ad) throws GeneralSecurityException;
    }

    /**
     * The JDK's AEAD. It refuses to init for encryption with the key and nonce of its previous init
     * ({@code InvalidKeyException}, "Matching key and nonce from previous initialization"). That guard only looks one
     * init back, and nonce uniqueness is WireGuard's job anyway: a fresh key per handshake message, a strictly
     * increasing counter per transport key. Sealing the same message twice under the same key (a test vector run
     * twice, a handshake message rebuilt from the same state) hits it, so that case re-inits once in decrypt mode,
     * which the guard skips, with a different nonce, then retries.
     */
    private static final class JdkEngine extends Engine {
        private final Cipher cipher = cipher("ChaCha20-Poly1305");

        @Override
        int seal(SecretKey key, byte[] nonce12, byte[] in, int inOff, int len, byte[] out, int outOff, byte[] ad)
                throws GeneralSecurityException {
            IvParameterSpec iv = new IvParameterSpec(nonce12);
            try {
                cipher.init(Cipher.ENCRYPT_MODE, key, iv);
            } catch (InvalidKeyException reused) {
                byte[] other = nonce12.clone();
                other[0] ^= 1;
                cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(other));
                cipher.init(Cipher.ENCRYPT_MODE, key, iv); // a key that is plainly invalid still fails here
            }
            if (ad != null) {
                cipher.updateAAD(ad);
            }
            return cipher.doFinal(in, inOff, len, out, outOff);
        }

        @Override
        int open(SecretKey key, byte[] nonce12, byte[] in, int inOff, int len, byte[] out, int outOff, byte[] ad)
                throws GeneralSecurityException {
            cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(nonce12));
            if (ad != null) {
                cipher.updateAAD(ad);
            }
            try {
                return cipher.doFinal(in, inOff, len, out, outOff);
            } catch (AEADBadTagException e) {
                return -1;
            }
        }
    }

    /** The JDK's ChaCha20 stream and wg-core's {@link Poly1305}, as described in the class comment. */
    private static final class OwnEngine extends Engine {
        private static final byte[] ZEROS = new byte[64];

        private final Cipher chacha = cipher("ChaCha20");
        private final Poly1305 mac = new Poly1305();
        private final byte[] block0 = new byte[64];
        private final byte[] tag = new byte[TAG_LENGTH];

        @Override
        int seal(SecretKey key, byte[] nonce12, byte[] in, int inOff, int len, byte[] out, int outOff, byte[] ad)
                throws GeneralSecurityException {
            start(key, nonce12);
            chacha.update(in, inOff, len, out, outOff);
            authenticate(ad, out, outOff, len);
            mac.finish(out, outOff + len);
            return len + TAG_LENGTH;
        }

        @Override
        int open(SecretKey key, byte[] nonce12, byte[] in, int inOff, int len, byte[] out, int outOff, byte[] ad)
                throws GeneralSecurityException {
            int plainLen = len - TAG_LENGTH;
            start(key, nonce12);
            authenticate(ad, in, inOff, plainLen);
            mac.finish(tag, 0);
            if (!ConstantTime.equals(tag, 0, in, inOff + plainLen, TAG_LENGTH)) {
                return -1;
            }
            chacha.update(in, inOff, plainLen, out, outOff);
            return plainLen;
        }

        /** Inits the stream at block 0 and keys the MAC with that block's first 32 bytes; the stream is then at 1. */
        private void start(SecretKey key, byte[] nonce12) throws GeneralSecurityException {
            chacha.init(Cipher.DECRYPT_MODE, key, new ChaCha20ParameterSpec(nonce12, 0));
            chacha.update(ZEROS, 0, 64, block0, 0);
            mac.init(block0, 0);
            Arrays.fill(block0, (byte) 0);
        }

        private void authenticate(byte[] ad, byte[] ciphertext, int off, int len) {
            int adLen = 0;
            if (ad != null) {
                adLen = ad.length;
                mac.update(ad, 0, adLen);
                mac.pad16();
            }
            mac.update(ciphertext, off, len);
            mac.pad16();
            mac.updateWords(adLen, len);
        }
    }
}
