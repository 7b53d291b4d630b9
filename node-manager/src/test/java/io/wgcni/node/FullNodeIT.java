package io.wgcni.node;

import static io.wgcni.node.NodeManagerIT.awaitPing;
import static io.wgcni.node.NodeManagerIT.pings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.api.node.v1.AttachRequest;
import io.wgcni.api.node.v1.DetachRequest;
import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import io.wgcni.tun.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full node: 110 containers (Kubernetes' default maximum of pods per node) on one node-manager, each reaching a
 * container on another node. What a node holds must not grow with its containers the way it did with a device of
 * five threads each: node-manager's threads in all, its live heap per container, its resident memory, and the
 * latency of an attach with 110 present against one with a single container present. Prints the figures
 * benchmarks/RESULTS.md records; {@link NodeBenchmark} prints the same from {@link #measure}.
 */
class FullNodeIT {
    static final int CONTAINERS = 110;
    /**
     * Threads node-manager may have in all with a full node (gRPC, the cluster watch, wg0, the poller, timers...).
     * Two of the JDK's pools vary from run to run and are counted too: a "process reaper" per child process running
     * at once (kept 60 s idle; one that has not gone idle yet when the next {@code ip} starts makes a second), and
     * the virtual threads' carriers (more while some block in a system call). node-manager's own threads leave room
     * for them: 38 with one reaper and 3 carriers.
     */
    static final int MAX_THREADS = 40;
    static final long MAX_HEAP_PER_CONTAINER = 256 * 1024;
    private static final int SAMPLES = 20;

    @TempDir
    Path work;

    @Test
    void aFullNodeKeepsItsThreadsAndMemoryAndEveryContainerReachesAnotherNode() throws Exception {
        Root.assumeTunAvailable();
        try (LocalCluster cluster = LocalCluster.start(work, 2)) {
            Figures f = measure(cluster);
            System.out.println(f);
            assertTrue(f.threads <= MAX_THREADS, "node-manager threads with " + CONTAINERS + " containers: "
                    + f.threads + " " + threadNames(cluster.node(1)));
            assertTrue(f.heapPerContainer() <= MAX_HEAP_PER_CONTAINER, "live heap per container: "
                    + f.heapPerContainer() + " bytes");
            // "No worse" within what a noisy 2-core machine gives between two runs of 20 attaches.
            assertTrue(f.full[0] <= 1.5 * f.single[0] + 5, "attach p50 with 110 present: " + f);
            assertEquals(CONTAINERS, f.reached, "every container reaches the other node");
        }
    }

    /** Attach latencies (p50, p99, in ms), node-manager's threads, live heap and RSS, on a 2-node cluster. */
    record Figures(double[] single, double[] full, int threads, long heapOne, long heapFull, long rssOne,
            long rssFull, int reached) {
        long heapPerContainer() {
            return (heapFull - heapOne) / (CONTAINERS - 1);
        }

        @Override
        public String toString() {
            return String.format("full node (%d containers): attach p50 %.1f ms, p99 %.1f ms (with 1 present: p50"
                    + " %.1f ms, p99 %.1f ms); node-manager threads %d; live heap %d KiB with 1, %d KiB with %d"
                    + " (%d KiB per container); RSS %d MiB with 1, %d MiB with %d; %d of %d reach the other node",
                    CONTAINERS, full[0], full[1], single[0], single[1], threads, heapOne >> 10, heapFull >> 10,
                    CONTAINERS, heapPerContainer() >> 10, rssOne >> 10, rssFull >> 10, CONTAINERS, reached,
                    CONTAINERS);
        }
    }

    static Figures measure(LocalCluster cluster) throws Exception {
        NodeProcess n1 = cluster.node(1);
        Container remote = cluster.container(cluster.node(2));
        List<Container> here = new ArrayList<>();
        here.add(cluster.container(n1));
        awaitPing(here.getFirst(), remote);
        String spare = cluster.emptyNamespace();
        attachLatencies(n1, spare, 5); // warm-up: class loading and JIT out of the figures
        double[] single = attachLatencies(n1, spare, SAMPLES);
        long heapOne = liveHeap(n1);
        long rssOne = NodeBenchmark.rssKiB(n1);

        while (here.size() < CONTAINERS) {
            here.add(cluster.container(n1));
        }
        int reached = reachAll(here, remote);
        double[] full = attachLatencies(n1, spare, SAMPLES);
        long heapFull = liveHeap(n1);
        long rssFull = NodeBenchmark.rssKiB(n1);
        int threads = threads(n1);
        return new Figures(single, full, threads, heapOne, heapFull, rssOne, rssFull, reached);
    }

    /** p50 and p99 of {@code samples} attach calls (each detached again) of {@code netns}, in ms. */
    private static double[] attachLatencies(NodeProcess n, String netns, int samples) {
        double[] ms = new double[samples];
        for (int i = 0; i < samples; i++) {
            long t = System.nanoTime();
            n.api().attach(AttachRequest.newBuilder().setContainerId(netns).setNetns("/var/run/netns/" + netns)
                    .setIfname("eth0").setNetworkName("wgcni").build());
            ms[i] = (System.nanoTime() - t) / 1e6;
            n.api().detach(DetachRequest.newBuilder().setContainerId(netns).setIfname("eth0")
                    .setNetns("/var/run/netns/" + netns).build());
        }
        Arrays.sort(ms);
        return new double[] {ms[samples / 2], ms[Math.min(samples - 1, (int) Math.ceil(0.99 * samples) - 1)]};
    }

    /** How many of {@code containers} ping {@code remote} (each tries for up to 20 s), a few at a time. */
    private static int reachAll(List<Container> containers, Container remote) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (Container c : containers) {
                results.add(pool.submit(() -> {
                    long deadline = System.nanoTime() + 20_000_000_000L;
                    while (System.nanoTime() < deadline) {
                        if (pings(c.netns(), remote.address())) {
                            return true;
                        }
                    }
                    return false;
                }));
            }
            int ok = 0;
            for (Future<Boolean> r : results) {
                ok += r.get() ? 1 : 0;
            }
            return ok;
        } finally {
            pool.shutdownNow();
        }
    }

    /** The process's threads by name (their {@code comm}, digits dropped), with counts. */
    static java.util.Map<String, Long> threadNames(NodeProcess n) throws Exception {
        try (var tasks = Files.list(Path.of("/proc", Long.toString(n.pid()), "task"))) {
            return tasks.map(t -> {
                try {
                    return Files.readString(t.resolve("comm")).strip().replaceAll("[0-9]+", "#");
                } catch (java.io.IOException e) {
                    return "?";
                }
            }).collect(java.util.stream.Collectors.groupingBy(x -> x, java.util.TreeMap::new,
                    java.util.stream.Collectors.counting()));
        }
    }

    /** The process's threads, less the "Attach Listener" that this test's own jcmd made the JVM start. */
    static int threads(NodeProcess n) throws Exception {
        return (int) threadNames(n).entrySet().stream().filter(e -> !e.getKey().equals("Attach Listener"))
                .mapToLong(java.util.Map.Entry::getValue).sum();
    }

    /** Bytes of live objects in node-manager's heap, after the full GC that jcmd's class histogram starts. */
    static long liveHeap(NodeProcess n) throws Exception {
        String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
        String out = LocalCluster.run(jcmd, Long.toString(n.pid()), "GC.class_histogram");
        Matcher m = Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)").matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no Total in jcmd's histogram: " + out.lines().limit(5).toList());
        }
        return Long.parseLong(m.group(1));
    }
}
