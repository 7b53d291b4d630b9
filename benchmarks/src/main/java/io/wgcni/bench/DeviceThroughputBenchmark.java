package io.wgcni.bench;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryNetwork.MemoryBind;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.ip.Superpackets;
import io.wgcni.wg.time.SystemClock;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Two wg-core {@link Device}s connected in memory ({@link MemoryNetwork}, {@link MemoryTun}, the real
 * {@link SystemClock}): 1420-byte IPv4 packets injected into A's TUN, encrypted by A, carried as UDP datagrams,
 * decrypted by B and delivered to B's TUN. This is the whole data plane (routing, batching, sealing on A's TUN
 * reader and opening on B's UDP reader, the replay window, the allowed-IPs source check) minus real I/O; the
 * in-memory network and TUN copy each packet (inject, datagram, delivery), which real I/O would also do.
 *
 * <p>Each invocation injects {@value #BURST} packets, then takes delivered packets from B's TUN until at most
 * {@link #window} are in flight, so the pipeline stays busy but no queue can overflow. Score (primary):
 * packets per second ({@code @OperationsPerInvocation}); {@code delivered} (an auxiliary counter) is the packets
 * actually taken from B's TUN per second, which must match. Gbit/s = packets/s * 1420 * 8.
 *
 * <p>Everything shares the machine: each device's reading threads run its packets to completion, and the
 * benchmark thread feeds A and drains B. At the end of the trial it prints the packets lost, both devices'
 * non-zero drop counters and any device thread that died.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(1)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DeviceThroughputBenchmark {
    static final int PACKET = 1420;
    static final int BURST = 128;
    /** A packet not delivered within this long is counted as lost. */
    private static final long LOSS_TIMEOUT_MS = 2_000;

    /**
     * Packets allowed in flight (injected, not yet taken from B's TUN); the in-memory network and TUN queues hold
     * more than that, so nothing overflows, and a drop would show in the devices' counters at the end.
     */
    @Param({"256"})
    public int window;

    private final List<String> crashes = new CopyOnWriteArrayList<>();
    private Thread.UncaughtExceptionHandler previousHandler;
    private MemoryNetwork network;
    private MemoryTun tunA;
    private MemoryTun tunB;
    private Device a;
    private Device b;
    private byte[] packet;
    private long injected;
    private long received;
    private long lost;

    /** Packets taken from B's TUN, reported per second next to the primary score. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Delivered {
        public long delivered;

        @Setup(Level.Iteration)
        public void reset() {
            delivered = 0;
        }
    }

    @Setup(Level.Trial)
    public void setup() throws IOException, InterruptedException {
        if (window < BURST) {
            throw new IllegalArgumentException("window must be at least the burst, " + BURST);
        }
        // A device thread that dies of an exception takes a worker away for good: record it, report it.
        previousHandler = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> {
            crashes.add(t.getName() + ": " + e);
            e.printStackTrace();
        });
        network = new MemoryNetwork();
        InetAddress innerA = InetAddress.getByName("192.168.0.1");
        InetAddress innerB = InetAddress.getByName("192.168.0.2");
        tunA = new MemoryTun("wga", PACKET);
        tunB = new MemoryTun("wgb", PACKET);
        MemoryBind bindA = network.newBind(InetAddress.getByName("10.0.0.1"));
        MemoryBind bindB = network.newBind(InetAddress.getByName("10.0.0.2"));
        a = new Device("a", tunA, bindA, SystemClock.INSTANCE);
        b = new Device("b", tunB, bindB, SystemClock.INSTANCE);
        Key keyA = X25519.generatePrivateKey();
        Key keyB = X25519.generatePrivateKey();
        a.setPrivateKey(keyA);
        b.setPrivateKey(keyB);
        a.setListenPort(51820);
        b.setListenPort(51820);
        a.up();
        b.up();
        Peer bAtA = a.addPeer(X25519.publicKey(keyB));
        Peer aAtB = b.addPeer(X25519.publicKey(keyA));
        a.addAllowedIp(bAtA, new Prefix(innerB, 32));
        b.addAllowedIp(aAtB, new Prefix(innerA, 32));
        bAtA.setEndpoint(bindB.localEndpoint());
        aAtB.setEndpoint(bindA.localEndpoint());

        packet = Superpackets.udp4((Inet4Address) innerA, (Inet4Address) innerB, PACKET);
        // The first packet triggers the handshake; it must come through whole before anything is measured.
        tunA.inject(packet);
        byte[] first = tunB.poll(5_000);
        if (first == null || first.length != PACKET) {
            throw new IllegalStateException("no tunnel: the first packet did not arrive ("
                    + (first == null ? "nothing" : first.length + " bytes") + "); A " + a.stats().snapshot()
                    + ", B " + b.stats().snapshot());
        }
    }

    @Benchmark
    @OperationsPerInvocation(BURST)
    public void transfer(Delivered counter) throws InterruptedException {
        for (int i = 0; i < BURST; i++) {
            tunA.inject(packet);
        }
        injected += BURST;
        while (injected - received > window) {
            if (tunB.poll(LOSS_TIMEOUT_MS) == null) {
                lost += injected - received; // give up on what is in flight: counted, reported at teardown
                received = injected;
                return;
            }
            received++;
            counter.delivered++;
        }
    }

    /** Drains what is still in flight so each iteration starts from an empty pipeline. */
    @TearDown(Level.Iteration)
    public void drain() throws InterruptedException {
        while (received < injected) {
            if (tunB.poll(LOSS_TIMEOUT_MS) == null) {
                lost += injected - received;
                received = injected;
                return;
            }
            received++;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        Map<String, Long> statsA = a.stats().snapshot();
        Map<String, Long> statsB = b.stats().snapshot();
        System.out.printf("%nDeviceThroughput: injected %,d, delivered %,d, lost %,d%n", injected, received - lost,
                lost);
        System.out.println("  A stats: " + nonZero(statsA));
        System.out.println("  B stats: " + nonZero(statsB));
        a.close();
        b.close();
        Thread.setDefaultUncaughtExceptionHandler(previousHandler);
        if (lost > 0) {
            System.out.println("  WARNING: packets were lost: the score is not meaningful");
        }
        if (!crashes.isEmpty()) {
            System.out.println("  WARNING: device threads died during the run: " + crashes);
        }
    }

    private static String nonZero(Map<String, Long> stats) {
        StringBuilder sb = new StringBuilder();
        stats.forEach((k, v) -> {
            if (v != 0) {
                sb.append(sb.isEmpty() ? "" : ", ").append(k).append('=').append(v);
            }
        });
        return sb.isEmpty() ? "all counters zero (no drops)" : sb.toString();
    }
}
