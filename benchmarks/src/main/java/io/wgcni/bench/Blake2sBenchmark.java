package io.wgcni.bench;

import io.wgcni.wg.crypto.Blake2s;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.digests.Blake2sDigest;
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
 * BLAKE2s-256, wg-core's {@link Blake2s} against BouncyCastle's {@link Blake2sDigest}, at the handshake's sizes:
 * 32 bytes (a key or a hash mixed into the transcript) and 148 bytes (a whole initiation message).
 *
 * <ul>
 *   <li>{@code ours} / {@code bc}: one reused instance each, update + digest (both reset after digest).</li>
 *   <li>{@code oursNewInstance}: a new {@code Blake2s} per hash, as the handshake code does it
 *       ({@code Noise.mixHash}, {@code Blake2s.hash}, {@code Kdf}): construction and reset included.</li>
 * </ul>
 *
 * Score: average time per hash, in nanoseconds.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class Blake2sBenchmark {
    @Param({"32", "148"})
    public int length;

    private byte[] input;
    private final byte[] out = new byte[32];
    private final Blake2s ours = new Blake2s(32);
    private final Blake2sDigest bc = new Blake2sDigest(256);

    @Setup
    public void setup() {
        input = new byte[length];
        new SplittableRandom(3).nextBytes(input);
        byte[] a = ours().clone();
        byte[] b = bc().clone();
        if (!Arrays.equals(a, b)) {
            throw new IllegalStateException("our BLAKE2s and BouncyCastle's disagree");
        }
    }

    @Benchmark
    public byte[] ours() {
        ours.update(input, 0, input.length).digest(out, 0);
        return out;
    }

    @Benchmark
    public byte[] oursNewInstance() {
        new Blake2s(32).update(input, 0, input.length).digest(out, 0);
        return out;
    }

    @Benchmark
    public byte[] bc() {
        bc.update(input, 0, input.length);
        bc.doFinal(out, 0);
        return out;
    }
}
