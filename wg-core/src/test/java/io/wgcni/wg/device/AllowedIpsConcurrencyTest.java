package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.device.AllowedIpsTest.Peer;
import io.wgcni.wg.device.AllowedIpsTest.RouteGen;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * One writer churns routes while readers look up. Some routes ("stable") are inserted first and never touched,
 * so for every probe address there is a floor: a lookup must find a peer owning a covering prefix at least as
 * long as the longest stable one, whatever the writer is doing. A torn or half-updated trie shows up as a lost
 * subtree (null or a too-short match), a peer that owns no covering prefix, or an exception.
 */
class AllowedIpsConcurrencyTest {
    private static final long RUN_NANOS = TimeUnit.MILLISECONDS.toNanos(300);

    private final Random rnd = new Random(7);
    private final RouteGen gen = new RouteGen(rnd);
    private final AllowedIps<Peer> table = new AllowedIps<>();

    /** A probe: an address, the longest stable prefix covering it (-1: none), and each peer's longest cover. */
    private record Probe(byte[] addr, int floor, Map<Peer, Integer> longestByPeer) {
        String check(Peer found) {
            if (found == null) {
                return floor < 0 ? null : "lost a stable route";
            }
            Integer bits = longestByPeer.get(found);
            if (bits == null) {
                return found.name() + " never owned a covering prefix";
            }
            return bits >= floor ? null : found.name() + " matched shorter than a stable route";
        }
    }

    @Test
    @Timeout(20)
    void readersSeeOnlyWholeVersions() throws InterruptedException {
        Map<Prefix, Peer> stable = routes(40, "s", 2, Set.of());
        Map<Prefix, Peer> churned = routes(400, "w", 8, stable.keySet());
        stable.forEach(table::insert);
        List<Probe> probes = probes(stable, churned);

        AtomicReference<String> failure = new AtomicReference<>();
        AtomicLong lookups = new AtomicLong();
        List<Thread> readers = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            readers.add(Thread.ofPlatform().start(() -> read(probes, failure, lookups)));
        }
        int writes = write(new ArrayList<>(churned.keySet()), churned);
        failure.compareAndSet(null, "done");
        for (Thread reader : readers) {
            reader.join();
        }
        assertEquals("done", failure.get());
        assertTrue(lookups.get() > 1000 && writes > 1000, lookups + " lookups, " + writes + " writes");
        assertEquals(stable.size(), table.size() - countPresent(churned));
    }

    private void read(List<Probe> probes, AtomicReference<String> failure, AtomicLong lookups) {
        long n = 0;
        try {
            for (int i = 0; failure.get() == null; i = (i + 1) % probes.size(), n++) {
                Probe p = probes.get(i);
                String wrong = p.check(table.lookup(p.addr, 0, p.addr.length));
                if (wrong != null) {
                    failure.compareAndSet(null, wrong + " for " + AllowedIpsTest.prefix(p.addr, p.addr.length * 8));
                }
            }
        } catch (RuntimeException | Error e) {
            failure.compareAndSet(null, "reader threw " + e);
        }
        lookups.addAndGet(n);
    }

    /** Toggles random churned routes in and out, now and then dropping a whole peer, for RUN_NANOS. */
    private int write(List<Prefix> prefixes, Map<Prefix, Peer> owners) {
        Set<Prefix> present = new HashSet<>();
        long deadline = System.nanoTime() + RUN_NANOS;
        int writes = 0;
        for (; System.nanoTime() < deadline; writes++) {
            Prefix p = prefixes.get(rnd.nextInt(prefixes.size()));
            Peer owner = owners.get(p);
            if (rnd.nextInt(100) == 0) {
                table.removeByPeer(owner);
                present.removeIf(q -> owners.get(q) == owner);
            } else if (present.remove(p)) {
                assertTrue(table.remove(p, owner));
            } else {
                table.insert(p, owner);
                present.add(p);
            }
        }
        return writes;
    }

    private int countPresent(Map<Prefix, Peer> churned) {
        Set<Peer> peers = new HashSet<>(churned.values());
        return peers.stream().mapToInt(peer -> table.prefixes(peer).size()).sum();
    }

    /** Distinct random routes, none equal to one in {@code avoid}, spread over {@code peerCount} peers. */
    private Map<Prefix, Peer> routes(int count, String name, int peerCount, Set<Prefix> avoid) {
        List<Peer> peers = new ArrayList<>();
        for (int i = 0; i < peerCount; i++) {
            peers.add(new Peer(name + i));
        }
        Map<Prefix, Peer> routes = new LinkedHashMap<>();
        while (routes.size() < count) {
            Prefix p = gen.route(rnd.nextBoolean());
            if (!avoid.contains(p)) {
                routes.put(p, peers.get(rnd.nextInt(peerCount)));
            }
        }
        return routes;
    }

    private List<Probe> probes(Map<Prefix, Peer> stable, Map<Prefix, Peer> churned) {
        List<Probe> probes = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            byte[] addr = gen.address(rnd.nextBoolean());
            InetAddress inet = AllowedIpsTest.inet(addr);
            Map<Peer, Integer> longest = new IdentityHashMap<>();
            int floor = -1;
            for (Map<Prefix, Peer> routes : List.of(stable, churned)) {
                for (Map.Entry<Prefix, Peer> r : routes.entrySet()) {
                    if (r.getKey().contains(inet)) {
                        longest.merge(r.getValue(), r.getKey().bits(), Math::max);
                        floor = routes == stable ? Math.max(floor, r.getKey().bits()) : floor;
                    }
                }
            }
            probes.add(new Probe(addr, floor, longest));
        }
        return probes;
    }
}
