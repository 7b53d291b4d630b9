package io.wgcni.bench;

import io.wgcni.wg.device.AllowedIps;
import io.wgcni.wg.device.Prefix;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Longest-prefix match in {@link AllowedIps} with {@code routes} random prefixes, the data plane's call:
 * {@link AllowedIps#lookup(byte[], int, int)} on an address in place in a {@code byte[]}.
 *
 * <ul>
 *   <li>{@code ipv4}: route addresses uniformly random over the whole space, prefix lengths 8..32, 80% of them
 *       drawn from 16..28 and 20% from 8..32.</li>
 *   <li>{@code ipv6}: route addresses uniformly random over the whole space (like {@code ipv4}), prefix lengths
 *       16..128, 80% of them drawn from 32..64 and 20% from 16..128.</li>
 *   <li>{@code ipv6-ula}: the same, but every route inside fd00::/8, as in a real deployment where all routes
 *       share their first bits. The table's first-byte shortcut (a 256-entry table of where a walk stands after
 *       the first 8 bits) then skips nothing and every lookup walks the trie from the top.</li>
 * </ul>
 *
 * Routes go to 1,000 peers. The addresses are generated in advance, {@value #ADDRESSES} of them looked up in
 * sequence: a third inside a random route (its prefix, random host bits: a hit at that route or a longer one), a
 * third next to a random route (its prefix with the last bit flipped: the walk goes deep, then falls back to a
 * shorter route or finds none), a third uniformly random in the family's route space. With 20% of the IPv4
 * routes as short as /8../15 nearly every IPv4 address finds some route; for IPv6 the random third mostly
 * misses. Setup prints the fraction that found a route. Score: average time per lookup, ns.
 *
 * <p>The trie is built once per trial, then {@code System.gc()} runs a few times ({@code gc=true}): the trie
 * is persistent and built by path copying, so its live nodes end up scattered over a heap full of discarded
 * copies; a full collection compacts the survivors into a few dense regions, which makes walks much more
 * cache- and TLB-friendly. {@code gc=false} measures the trie as built, for comparison.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class AllowedIpsBenchmark {
    static final int ADDRESSES = 1 << 18;
    private static final int PEERS = 1_000;

    @Param({"ipv4", "ipv6", "ipv6-ula"})
    public String family;

    @Param({"100000"})
    public int routes;

    @Param({"true"})
    public boolean gc;

    private AllowedIps<Object> table;
    private byte[] addresses;
    private int addressLength;
    private boolean v4;
    private boolean ula;
    private int next;

    @Setup(Level.Trial)
    public void setup() throws UnknownHostException {
        SplittableRandom random = new SplittableRandom(2024);
        v4 = family.equals("ipv4");
        ula = family.equals("ipv6-ula");
        if (!v4 && !ula && !family.equals("ipv6")) {
            throw new IllegalArgumentException("family is ipv4, ipv6 or ipv6-ula, not " + family);
        }
        addressLength = v4 ? 4 : 16;
        Object[] peers = new Object[PEERS];
        for (int i = 0; i < PEERS; i++) {
            peers[i] = new Object();
        }

        table = new AllowedIps<>();
        byte[][] routeAddresses = new byte[routes][];
        int[] routeBits = new int[routes];
        for (int i = 0; i < routes; i++) {
            byte[] raw = randomAddress(random);
            int bits = prefixLength(random);
            Prefix prefix = new Prefix(InetAddress.getByAddress(raw), bits);
            table.insert(prefix, peers[random.nextInt(PEERS)]);
            routeAddresses[i] = prefix.addressBytes();
            routeBits[i] = bits;
        }

        addresses = new byte[ADDRESSES * addressLength];
        int hits = 0;
        for (int i = 0; i < ADDRESSES; i++) {
            byte[] a = randomAddress(random);
            int kind = i % 3;
            if (kind < 2) {
                int r = random.nextInt(routes);
                int bits = routeBits[r];
                copyBits(routeAddresses[r], a, bits); // inside route r, random host bits
                if (kind == 1) {
                    int last = bits - 1; // just outside route r: its prefix with the last bit flipped
                    a[last >>> 3] ^= (byte) (0x80 >>> (last & 7));
                }
            }
            System.arraycopy(a, 0, addresses, i * addressLength, addressLength);
            if (table.lookup(addresses, i * addressLength, addressLength) != null) {
                hits++;
            }
        }
        System.out.printf("%nAllowedIps %s: %,d prefixes inserted (%,d distinct), %,d addresses, %.1f%% found a"
                + " route%n", family, routes, table.size(), ADDRESSES, 100.0 * hits / ADDRESSES);
        if (gc) {
            for (int i = 0; i < 3; i++) {
                System.gc();
            }
        }
    }

    private byte[] randomAddress(SplittableRandom random) {
        byte[] a = new byte[addressLength];
        random.nextBytes(a);
        if (ula) {
            a[0] = (byte) 0xfd;
        }
        return a;
    }

    private int prefixLength(SplittableRandom random) {
        boolean usual = random.nextInt(10) < 8;
        if (v4) {
            return usual ? random.nextInt(16, 29) : random.nextInt(8, 33);
        }
        return usual ? random.nextInt(32, 65) : random.nextInt(16, 129);
    }

    /** Copies the first {@code bits} bits of {@code from} into {@code to}. */
    private static void copyBits(byte[] from, byte[] to, int bits) {
        for (int i = 0; i < bits; i++) {
            int mask = 0x80 >>> (i & 7);
            to[i >>> 3] = (byte) ((to[i >>> 3] & ~mask) | (from[i >>> 3] & mask));
        }
    }

    @Benchmark
    public Object lookup() {
        int i = next;
        next = (i + 1) & (ADDRESSES - 1);
        return table.lookup(addresses, i * addressLength, addressLength);
    }
}
