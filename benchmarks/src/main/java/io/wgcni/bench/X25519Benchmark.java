package io.wgcni.bench;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.NamedParameterSpec;
import java.security.spec.XECPrivateKeySpec;
import java.security.spec.XECPublicKeySpec;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import javax.crypto.KeyAgreement;
import org.bouncycastle.math.ec.rfc7748.X25519;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The X25519 pieces of a handshake, BouncyCastle (what wg-core uses) against the JDK's {@code KeyAgreement
 * "X25519"}, on the same keys.
 *
 * <ul>
 *   <li>{@code bcSharedSecret} / {@code jdkSharedSecret}: one variable-base DH. The JDK gets its key objects
 *       built in advance (only {@code init}, {@code doPhase}, {@code generateSecret} are timed), which is the
 *       best case for it: WireGuard's keys arrive as raw bytes and would need a {@code KeyFactory} each time.</li>
 *   <li>{@code bcScalarMultBase}: a public key from a private key (fixed base, BC's precomputed table).
 *       The JDK has no fixed-base call: {@code jdkKeyPairGenerate} is its way to make an ephemeral key (32
 *       random bytes, then a base-point multiplication), and {@code jdkBasePointAgreement} is a
 *       {@code KeyAgreement} with the base point u = 9 as the public key.</li>
 * </ul>
 *
 * Score: average time per operation, in microseconds.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class X25519Benchmark {
    private final byte[] privateRaw = new byte[32];
    private final byte[] peerPublicRaw = new byte[32];
    private final byte[] out = new byte[32];

    private KeyAgreement agreement;
    private PrivateKey jdkPrivate;
    private PublicKey jdkPeerPublic;
    private PublicKey jdkBasePoint;
    private KeyPairGenerator jdkGenerator;

    @Setup
    public void setup() throws GeneralSecurityException {
        SplittableRandom random = new SplittableRandom(7);
        byte[] peerPrivate = new byte[32];
        random.nextBytes(privateRaw);
        random.nextBytes(peerPrivate);
        X25519.scalarMultBase(peerPrivate, 0, peerPublicRaw, 0);

        KeyFactory factory = KeyFactory.getInstance("XDH");
        jdkPrivate = factory.generatePrivate(new XECPrivateKeySpec(NamedParameterSpec.X25519, privateRaw.clone()));
        jdkPeerPublic = factory.generatePublic(new XECPublicKeySpec(NamedParameterSpec.X25519, u(peerPublicRaw)));
        jdkBasePoint = factory.generatePublic(new XECPublicKeySpec(NamedParameterSpec.X25519, BigInteger.valueOf(9)));
        agreement = KeyAgreement.getInstance("X25519");
        jdkGenerator = KeyPairGenerator.getInstance("X25519");

        // Both libraries must compute the same thing, or the comparison means nothing.
        byte[] bc = new byte[32];
        if (!X25519.calculateAgreement(privateRaw, 0, peerPublicRaw, 0, bc, 0)) {
            throw new IllegalStateException("BC: low-order result");
        }
        jdkSharedSecret();
        if (!Arrays.equals(bc, out)) {
            throw new IllegalStateException("BC and the JDK disagree on the shared secret");
        }
        byte[] bcPublic = new byte[32];
        X25519.scalarMultBase(privateRaw, 0, bcPublic, 0);
        jdkBasePointAgreement();
        if (!Arrays.equals(bcPublic, out)) {
            throw new IllegalStateException("BC and the JDK disagree on the public key");
        }
    }

    /** The u-coordinate as the JDK wants it: the 32 bytes little-endian, top bit masked (RFC 7748, 5). */
    private static BigInteger u(byte[] raw) {
        byte[] be = new byte[32];
        for (int i = 0; i < 32; i++) {
            be[i] = raw[31 - i];
        }
        be[0] &= 0x7f;
        return new BigInteger(1, be);
    }

    @Benchmark
    public byte[] bcSharedSecret() {
        X25519.calculateAgreement(privateRaw, 0, peerPublicRaw, 0, out, 0);
        return out;
    }

    @Benchmark
    public byte[] jdkSharedSecret() throws GeneralSecurityException {
        agreement.init(jdkPrivate);
        agreement.doPhase(jdkPeerPublic, true);
        agreement.generateSecret(out, 0);
        return out;
    }

    @Benchmark
    public byte[] bcScalarMultBase() {
        X25519.scalarMultBase(privateRaw, 0, out, 0);
        return out;
    }

    @Benchmark
    public byte[] jdkBasePointAgreement() throws GeneralSecurityException {
        agreement.init(jdkPrivate);
        agreement.doPhase(jdkBasePoint, true);
        agreement.generateSecret(out, 0);
        return out;
    }

    @Benchmark
    public Object jdkKeyPairGenerate() {
        return jdkGenerator.generateKeyPair();
    }
}
