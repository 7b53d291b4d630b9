package io.wgcni.bench;

import io.wgcni.wg.crypto.ChaChaPoly;
import java.security.GeneralSecurityException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.ChaCha20ParameterSpec;
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
 * <p>Score: packets per second; bytes per second = score * size (the payload, not counting the 16-byte tag).
 *
 * <p>{@code open}: a packet must be sealed under the counter it is opened with, and opening in place turns it
 * into plaintext, so each call first copies one of {@link #RING} pre-sealed packets (counters 0..RING-1) into
 * the work buffer. That copy (size + 16 bytes, a few tens of ns at 1420) is part of the measured time, so
 * {@code open} slightly understates the decryption speed.
 *
 * <p>Two reference points, to explain the score (not used by wg-core): {@code jdkChaCha20Only} is the JDK's
 * plain {@code "ChaCha20"} cipher over the same bytes (the stream cipher without Poly1305: seal minus this is
 * the MAC's share), and {@code bcSeal} is BouncyCastle's pure-Java {@code ChaCha20Poly1305} sealing the same
 * way (in place, incrementing counter). Whether the JDK's Poly1305 is intrinsified depends on the CPU: on
 * x86-64 it needs AVX-512 IFMA or AVX-IFMA ({@code -XX:+UnlockDiagnosticVMOptions -XX:+PrintFlagsFinal} shows
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

    @Param({"64", "512", "1420"})
    public int size;

    private final ChaChaPoly aead = new ChaChaPoly();
    private SecretKey key;
    private byte[] sealBuf;
    private long sealCounter;

    private Cipher chacha20;
    private byte[] chachaNonce;
    private byte[] chachaBuf;
    private final ChaCha20Poly1305 bc = new ChaCha20Poly1305();
    private KeyParameter bcKey;
    private byte[] bcBuf;
    private long bcCounter;

    private byte[] openBuf;
    private byte[][] sealed;
    private int openIndex;

    @Setup
    public void setup() {
        SplittableRandom random = new SplittableRandom(42);
        byte[] raw = new byte[32];
        random.nextBytes(raw);
        key = ChaChaPoly.key(raw);

        sealBuf = new byte[HEADER + size + ChaChaPoly.TAG_LENGTH];
        random.nextBytes(sealBuf);

        openBuf = new byte[HEADER + size + ChaChaPoly.TAG_LENGTH];
        sealed = new byte[RING][];
        for (int i = 0; i < RING; i++) {
            byte[] packet = new byte[size + ChaChaPoly.TAG_LENGTH];
            random.nextBytes(packet);
            if (aead.seal(key, i, packet, 0, size, packet, 0, null) != size + ChaChaPoly.TAG_LENGTH) {
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

        try {
            chacha20 = Cipher.getInstance("ChaCha20");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        chachaNonce = new byte[12];
        chachaBuf = sealBuf.clone();
        bcKey = new KeyParameter(raw);
        bcBuf = sealBuf.clone();
    }

    @Benchmark
    public int seal() {
        return aead.seal(key, sealCounter++, sealBuf, HEADER, size, sealBuf, HEADER, null);
    }

    @Benchmark
    public int open() {
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

    @Benchmark
    public int jdkChaCha20Only() throws GeneralSecurityException {
        // A new nonce every call (the JDK refuses to re-init encryption with the previous key and nonce).
        long c = ++sealCounter;
        for (int i = 0; i < 8; i++) {
            chachaNonce[4 + i] = (byte) (c >>> 8 * i);
        }
        chacha20.init(Cipher.ENCRYPT_MODE, key, new ChaCha20ParameterSpec(chachaNonce, 0));
        return chacha20.doFinal(chachaBuf, HEADER, size, chachaBuf, HEADER);
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
