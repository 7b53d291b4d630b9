package io.wgcni.bench;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.noise.CookieChecker;
import io.wgcni.wg.noise.CookieGenerator;
import io.wgcni.wg.noise.Handshake;
import io.wgcni.wg.noise.Keypair;
import io.wgcni.wg.noise.Noise;
import io.wgcni.wg.noise.Protocol;
import io.wgcni.wg.noise.StaticIdentity;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Complete WireGuard handshakes per second on one thread: both devices' work, one after the other.
 *
 * <ol>
 *   <li>initiator: {@link Noise#createInitiation} (new ephemeral key, 2 DH: ephemeral-static and the
 *       precomputed static-static) and {@link CookieGenerator#addMacs};</li>
 *   <li>responder: {@link CookieChecker#checkMac1}, {@link Noise#consumeInitiation} (2 DH),
 *       {@link Noise#createResponse} (new ephemeral key, 2 DH), {@link CookieGenerator#addMacs} on the response,
 *       {@link Noise#beginSession};</li>
 *   <li>initiator: {@link CookieChecker#checkMac1} of the response, {@link Noise#consumeResponse} (2 DH),
 *       {@link Noise#beginSession}.</li>
 * </ol>
 *
 * That is 2 fixed-base and 6 variable-base X25519 operations per handshake. The responder accepts an initiation
 * only if its TAI64N timestamp (2^24 ns granularity) is newer than the last one and no initiation from that
 * peer was consumed in the last 20 ms, so every operation advances the fake wall clock and the fake monotonic
 * clock by one second: each one is a real, full handshake. Every step's result is checked on every operation
 * (cheap next to the DH), and {@link #setup} checks that the two sides derive matching transport keys.
 *
 * <p>Not included: the device's index table (a {@code SecureRandom} index per message), keypair installation,
 * timers, and the queueing between threads.
 *
 * <p>The {@code x25519*} methods time the handshake's X25519 operations alone, in µs per operation, wg-core's
 * {@link X25519} (its own radix-2^51 Montgomery ladder) against BouncyCastle's {@code rfc7748.X25519} on the same
 * keys, so that the ratios come from one run:
 * <ul>
 *   <li>{@code x25519SharedSecret} / {@code x25519SharedSecretBc}: one variable-base DH (six per handshake);</li>
 *   <li>{@code x25519PublicKey} / {@code x25519PublicKeyBc}: a public key from a private key (two per handshake,
 *       the ephemeral keys); {@code x25519LadderBasePoint} is the ladder with u = 9, what {@code publicKey} would
 *       cost without a fixed-base method.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class HandshakeBenchmark {
    private static final long SECOND = 1_000_000_000L;

    private StaticIdentity initiator;
    private StaticIdentity responder;
    /** The initiator's state for the responder, and the other way round. */
    private Handshake initiatorSide;
    private Handshake responderSide;
    private CookieGenerator initiatorMacs;
    private CookieGenerator responderMacs;
    private final CookieChecker initiatorChecker = new CookieChecker();
    private final CookieChecker responderChecker = new CookieChecker();

    private final byte[] privateRaw = new byte[32];
    private final byte[] peerPublicRaw = new byte[32];
    private final byte[] basePoint = new byte[32];
    private final byte[] out = new byte[32];
    private Key privateKey;

    private final byte[] initiation = new byte[Protocol.Initiation.SIZE];
    private final byte[] response = new byte[Protocol.Response.SIZE];
    private long epochNanos = 1_700_000_000L * SECOND;
    private long now = 1_000 * SECOND;
    private int nextIndex = 1;

    @Setup
    public void setup() {
        initiator = StaticIdentity.of(X25519.generatePrivateKey());
        responder = StaticIdentity.of(X25519.generatePrivateKey());
        initiatorSide = new Handshake(responder.publicKey());
        responderSide = new Handshake(initiator.publicKey());
        initiatorSide.precompute(initiator);
        responderSide.precompute(responder);
        initiatorMacs = new CookieGenerator(responder.publicKey());
        responderMacs = new CookieGenerator(initiator.publicKey());
        initiatorChecker.init(initiator.publicKey());
        responderChecker.init(responder.publicKey());

        privateKey = X25519.generatePrivateKey();
        privateKey.copyTo(privateRaw, 0);
        X25519.generatePrivateKey().copyTo(peerPublicRaw, 0);
        org.bouncycastle.math.ec.rfc7748.X25519.scalarMultBase(peerPublicRaw.clone(), 0, peerPublicRaw, 0);
        basePoint[0] = 9;
        // Both implementations must compute the same thing, or the comparison means nothing.
        byte[] ours = new byte[32];
        byte[] bc = new byte[32];
        if (!X25519.sharedSecret(ours, privateRaw, peerPublicRaw)
                || !org.bouncycastle.math.ec.rfc7748.X25519.calculateAgreement(privateRaw, 0, peerPublicRaw, 0, bc, 0)
                || !Arrays.equals(ours, bc)) {
            throw new IllegalStateException("wg-core and BouncyCastle disagree on the shared secret");
        }
        org.bouncycastle.math.ec.rfc7748.X25519.scalarMultBase(privateRaw, 0, bc, 0);
        if (!Arrays.equals(X25519.publicKey(privateKey).bytes(), bc)
                || !X25519.sharedSecret(ours, privateRaw, basePoint) || !Arrays.equals(ours, bc)) {
            throw new IllegalStateException("wg-core and BouncyCastle disagree on the public key");
        }

        // One handshake checked end to end: both sides must hold mirrored transport keys.
        Keypair[] pair = handshake();
        Keypair i = pair[0];
        Keypair r = pair[1];
        if (!i.isInitiator() || r.isInitiator()
                || !Arrays.equals(i.sendKey().getEncoded(), r.receiveKey().getEncoded())
                || !Arrays.equals(i.receiveKey().getEncoded(), r.sendKey().getEncoded())
                || i.remoteIndex() != r.localIndex() || r.remoteIndex() != i.localIndex()) {
            throw new IllegalStateException("the two sides derived different sessions");
        }
        // A replayed initiation (same timestamp) must be refused, or the clock advance above would be pointless.
        if (Noise.consumeInitiation(responder, initiation, 0, this::responderLookup, now + 10 * SECOND) != null) {
            throw new IllegalStateException("the responder accepted a replayed initiation");
        }
    }

    @Benchmark
    public void completeHandshake(Blackhole bh) {
        Keypair[] pair = handshake();
        bh.consume(pair[0]);
        bh.consume(pair[1]);
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public byte[] x25519SharedSecret() {
        X25519.sharedSecret(out, privateRaw, peerPublicRaw);
        return out;
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public byte[] x25519SharedSecretBc() {
        org.bouncycastle.math.ec.rfc7748.X25519.calculateAgreement(privateRaw, 0, peerPublicRaw, 0, out, 0);
        return out;
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public Key x25519PublicKey() {
        return X25519.publicKey(privateKey);
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public byte[] x25519PublicKeyBc() {
        org.bouncycastle.math.ec.rfc7748.X25519.scalarMultBase(privateRaw, 0, out, 0);
        return out;
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public byte[] x25519LadderBasePoint() {
        X25519.sharedSecret(out, privateRaw, basePoint);
        return out;
    }

    private Handshake responderLookup(Key publicKey) {
        return publicKey.equals(initiator.publicKey()) ? responderSide : null;
    }

    private Keypair[] handshake() {
        epochNanos += SECOND;
        now += SECOND;
        int initiatorIndex = nextIndex++;
        int responderIndex = nextIndex++;

        // Initiator.
        if (!Noise.createInitiation(initiator, initiatorSide, initiatorIndex, epochNanos, initiation, 0)) {
            throw new IllegalStateException("createInitiation failed");
        }
        initiatorMacs.addMacs(initiation, 0, initiation.length, now);

        // Responder.
        if (!responderChecker.checkMac1(initiation, 0, initiation.length)) {
            throw new IllegalStateException("initiation: bad mac1");
        }
        Handshake hs = Noise.consumeInitiation(responder, initiation, 0, this::responderLookup, now);
        if (hs != responderSide) {
            throw new IllegalStateException("consumeInitiation refused the initiation");
        }
        if (!Noise.createResponse(hs, responderIndex, now, response, 0)) {
            throw new IllegalStateException("createResponse failed");
        }
        responderMacs.addMacs(response, 0, response.length, now);
        Keypair responderKeys = Noise.beginSession(hs, now);
        if (responderKeys == null) {
            throw new IllegalStateException("responder: beginSession failed");
        }

        // Initiator.
        if (!initiatorChecker.checkMac1(response, 0, response.length)) {
            throw new IllegalStateException("response: bad mac1");
        }
        if (!Noise.consumeResponse(initiator, initiatorSide, response, 0)) {
            throw new IllegalStateException("consumeResponse refused the response");
        }
        Keypair initiatorKeys = Noise.beginSession(initiatorSide, now);
        if (initiatorKeys == null) {
            throw new IllegalStateException("initiator: beginSession failed");
        }
        return new Keypair[] {initiatorKeys, responderKeys};
    }
}
