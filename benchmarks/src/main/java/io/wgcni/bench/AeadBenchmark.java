package io.wgcni.bench;

import io.wgcni.wg.crypto.ChaChaPoly;
import java.lang.reflect.Field;
import java.security.GeneralSecurityException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.ChaCha20ParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.InvalidCipherTextException;
import org.bouncycastle.crypto.modes.ChaCha20Poly1305;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.KeyParameter;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * ChaCha20-Poly1305 per data packet, as a crypto worker does it: {@link ChaChaPoly#seal} and
 * {@link ChaChaPoly#open} in place in a reused buffer, with WireGuard's nonce (4 zero bytes, then a 64-bit
 * little-endian counter) taken from a counter that increments every packet. One thread, one {@code ChaChaPoly}.
 *
 * <p>{@code impl} picks ChaChaPoly's implementation through its system property {@code wgcni.aead}: {@code jdk}, the
 * JDK's "ChaCha20-Poly1305" cipher (what wg-core used before); {@code own}, the JDK's "ChaCha20" stream with
 * wg-core's Poly1305. The property is read once, when ChaChaPoly is initialised, and JMH runs every parameter
 * combination in its own JVM, so {@link Aead#setup} sets it before the first use (and checks that it took: with
 * {@code -f 0} it could not).
 *
 * <p>Score: packets per second; bytes per second = score * size (the payload, not counting the 16-byte tag).
 *
 * <p>{@code open}: a packet must be sealed under the counter it is opened with, and opening in place turns it
 * into plaintext, so each call first copies one of {@link #RING} pre-sealed packets (counters 0..RING-1) into
 * the work buffer. That copy (size + 16 bytes, a few tens of ns at 1420) is part of the measured time, so
 * {@code open} slightly understates the decryption speed.
 *
 * <p>Reference points, to explain the score (not used by wg-core): {@code jdkChaCha20Only} is the JDK's plain
 * {@code "ChaCha20"} cipher over the same bytes (init and stream, without Poly1305); {@code jdkChaCha20Init} and
 * {@code jdkAeadInit} are the per-packet {@code Cipher.init} of the "ChaCha20" and "ChaCha20-Poly1305" ciphers
 * alone (independent of size); {@code bcSeal} is BouncyCastle's pure-Java {@code ChaCha20Poly1305} sealing the same
 * way (in place, incrementing counter). Whether the JDK's Poly1305 is intrinsified depends on the CPU: on x86-64 it
 * needs AVX-512 IFMA or AVX-IFMA ({@code -XX:+UnlockDiagnosticVMOptions -XX:+PrintFlagsFinal} shows
 * {@code UsePoly1305Intrinsics}); ChaCha20's intrinsic needs only AVX2.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class AeadBenchmark {
    /** Room in front of the payload, as the data message header takes in a real packet buffer. */
    private static final int HEADER = 16;
    private static final int RING = 64;
    private static final int TAG = 16;

    @Param({"64", "512", "1420"})
    public int size;

    private byte[] rawKey;
    // Not ChaChaPoly.key(): that would initialise ChaChaPoly before Aead.setup sets the implementation.
    private SecretKey key;
    private byte[] fresh;

    private Cipher chacha20;
    private Cipher aeadCipher;
    private byte[] chachaNonce;
    private byte[] chachaBuf;
    private long chachaCounter;
    private final ChaCha20Poly1305 bc = new ChaCha20Poly1305();
    private KeyParameter bcKey;
    private byte[] bcBuf;
    private long bcCounter;

    @Setup
    public void setup() throws GeneralSecurityException {
        SplittableRandom random = new SplittableRandom(42);
        rawKey = new byte[32];
        random.nextBytes(rawKey);
        key = new SecretKeySpec(rawKey, "ChaCha20");
        fresh = new byte[HEADER + size + TAG];
        random.nextBytes(fresh);

        chacha20 = Cipher.getInstance("ChaCha20");
        aeadCipher = Cipher.getInstance("ChaCha20-Poly1305");
        chachaNonce = new byte[12];
        chachaBuf = fresh.clone();
        bcKey = new KeyParameter(rawKey);
        bcBuf = fresh.clone();
    }

    /** ChaChaPoly of one implementation, with its buffers. */
    @State(Scope.Thread)
    public static class Aead {
        @Param({"jdk", "own"})
        public String impl;

        private ChaChaPoly aead;
        private int size;
        private SecretKey key;
        private byte[] sealBuf;
        private long sealCounter;
        private byte[] openBuf;
        private byte[][] sealed;
        private int openIndex;

        @Setup
        public void setup(AeadBenchmark bench) throws ReflectiveOperationException {
            System.setProperty("wgcni.aead", impl);
            aead = new ChaChaPoly();
            Field chosen = ChaChaPoly.class.getDeclaredField("DEFAULT");
            chosen.setAccessible(true);
            if (!chosen.get(null).toString().equalsIgnoreCase(impl)) {
                throw new IllegalStateException("ChaChaPoly was initialised as " + chosen.get(null) + " before"
                        + " impl=" + impl + " could be set (run with a fork per parameter, -f 1 or more)");
            }
            size = bench.size;
            key = ChaChaPoly.key(bench.rawKey);
            sealBuf = bench.fresh.clone();

            SplittableRandom random = new SplittableRandom(7);
            openBuf = new byte[HEADER + size + TAG];
            sealed = new byte[RING][];
            for (int i = 0; i < RING; i++) {
                byte[] packet = new byte[size + TAG];
                random.nextBytes(packet);
                if (aead.seal(key, i, packet, 0, size, packet, 0, null) != size + TAG) {
                    throw new IllegalStateException("seal wrote an unexpected length");
                }
                sealed[i] = packet;
            }
            // Check the open path once before measuring it: a failing open would be a fast, meaningless -1.
            for (int i = 0; i < RING; i++) {
                if (open() != size) {
                    throw new IllegalStateException("pre-sealed packet " + i + " does not open");
                }
            }
            openIndex = 0;
        }

        int seal() {
            return aead.seal(key, sealCounter++, sealBuf, HEADER, size, sealBuf, HEADER, null);
        }

        int open() {
            int i = openIndex;
            openIndex = (i + 1) & (RING - 1);
            byte[] packet = sealed[i];
            System.arraycopy(packet, 0, openBuf, HEADER, packet.length);
            int n = aead.open(key, i, openBuf, HEADER, packet.length, openBuf, HEADER, null);
            if (n < 0) {
                throw new IllegalStateException("authentication failed for counter " + i);
            }
            return n;
        }
    }

    @Benchmark
    public int seal(Aead aead) {
        return aead.seal();
    }

    @Benchmark
    public int open(Aead aead) {
        return aead.open();
    }

    @Benchmark
    public int jdkChaCha20Only() throws GeneralSecurityException {
        // A new nonce every call (the JDK refuses to re-init encryption with the previous key and nonce).
        chacha20.init(Cipher.ENCRYPT_MODE, key, new ChaCha20ParameterSpec(nextNonce(), 0));
        return chacha20.doFinal(chachaBuf, HEADER, size, chachaBuf, HEADER);
    }

    @Benchmark
    public Cipher jdkChaCha20Init() throws GeneralSecurityException {
        // As ChaChaPoly's own construction inits it (decrypt mode: the same stream, no reuse check).
        chacha20.init(Cipher.DECRYPT_MODE, key, new ChaCha20ParameterSpec(nextNonce(), 0));
        return chacha20;
    }

    @Benchmark
    public Cipher jdkAeadInit() throws GeneralSecurityException {
        // As the JDK implementation inits it for a seal.
        aeadCipher.init(Cipher.ENCRYPT_MODE, key, new IvParameterSpec(nextNonce()));
        return aeadCipher;
    }

    private byte[] nextNonce() {
        long c = ++chachaCounter;
        for (int i = 0; i < 8; i++) {
            chachaNonce[4 + i] = (byte) (c >>> 8 * i);
        }
        return chachaNonce;
    }

    @Benchmark
    public int bcSeal() throws InvalidCipherTextException {
        long c = bcCounter++;
        byte[] nonce = new byte[12];
        for (int i = 0; i < 8; i++) {
            nonce[4 + i] = (byte) (c >>> 8 * i);
        }
        bc.init(true, new AEADParameters(bcKey, 128, nonce));
        int n = bc.processBytes(bcBuf, HEADER, size, bcBuf, HEADER);
        return n + bc.doFinal(bcBuf, HEADER + n);
    }
}
