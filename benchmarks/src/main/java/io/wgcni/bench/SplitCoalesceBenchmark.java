package io.wgcni.bench;

import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.Coalescer;
import io.wgcni.wg.ip.Segmenter;
import io.wgcni.wg.ip.Superpackets;
import java.net.Inet4Address;
import java.net.InetAddress;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The software half of the offloads, per 64 KiB TCP superpacket: {@code split} cuts one as a TUN with TSO hands it
 * over into 1380-byte segments (headers rewritten, checksums completed: what jwg does before sealing);
 * {@code coalesce} merges those 47 segments back into one superpacket (GRO, checksums verified: what jwg does
 * after opening, before the TUN write). Time per superpacket; divide by 47 for the cost per segment, to set
 * beside the ~1.2 µs a seal of 1420 bytes costs (AeadBenchmark).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SplitCoalesceBenchmark {
    static final int MSS = 1380;

    private Packet superpacket;
    private Packet[] segments;
    private int count;
    private Packet[] merged;
    private Coalescer coalescer;

    @Setup
    public void setup() throws Exception {
        Inet4Address a = (Inet4Address) InetAddress.getByName("10.0.0.1");
        Inet4Address b = (Inet4Address) InetAddress.getByName("10.0.0.2");
        superpacket = Superpackets.tcp4(a, b, new byte[47 * MSS - 40], MSS);
        segments = new Packet[64];
        for (int i = 0; i < segments.length; i++) {
            segments[i] = new Packet();
        }
        count = Segmenter.split(superpacket, 0, segments, 0, segments.length);
        if (count != Segmenter.segments(superpacket)) {
            throw new IllegalStateException("split " + count + " of " + Segmenter.segments(superpacket));
        }
        merged = new Packet[64];
        coalescer = new Coalescer(64, 64);
        if (coalescer.coalesce(segments, count, merged, false) != 1) {
            throw new IllegalStateException("the segments did not merge back into one superpacket");
        }
    }

    @Benchmark
    public int split() {
        return Segmenter.split(superpacket, 0, segments, 0, segments.length);
    }

    @Benchmark
    public int coalesce() {
        return coalescer.coalesce(segments, count, merged, false);
    }
}
