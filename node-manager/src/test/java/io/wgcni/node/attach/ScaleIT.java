package io.wgcni.node.attach;

import static io.wgcni.node.attach.AttachmentsIT.attach;
import static io.wgcni.node.attach.TestNode.ping;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.tun.Root;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A full node's containers (110, Kubernetes' default maximum of pods per node) in one process: what an attach
 * costs (latency percentiles), what the attached containers hold (heap, resident memory, threads: none of their
 * own, the node's poller and wg0's threads carry them), and a restart under them. Prints the figures
 * benchmarks/RESULTS.md records; {@code FullNodeIT} measures the same of a real node-manager process.
 */
class ScaleIT {
    private static final int CONTAINERS = 110;
    private Attachments attachments;

    @Test
    void attachesAHundredContainersAndMeasuresWhatTheyCost() throws Exception {
        Root.assumeTunAvailable();
        try (TestNode node = new TestNode()) {
            node.startHub();
            List<String> namespaces = new ArrayList<>();
            for (int i = 0; i < CONTAINERS; i++) {
                namespaces.add(node.container("c" + i));
            }
            attachments = node.attachments();
            try {
                // One attach and detach first, so that class loading and JIT are not in the figures.
                attachments.attach(attach("warm-up", namespaces.getFirst(), "eth9"));
                attachments.detach("warm-up", "eth9");
                Memory before = Memory.now();

                long[] attach = new long[CONTAINERS];
                for (int i = 0; i < CONTAINERS; i++) {
                    long t = System.nanoTime();
                    attachments.attach(attach("ctr-" + i, namespaces.get(i), "eth0"));
                    attach[i] = System.nanoTime() - t;
                }
                assertEquals(CONTAINERS, attachments.count());
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (attachments.peers().stream().anyMatch(p -> p.lastHandshakeEpochNanos() == 0)) {
                    assertTrue(System.nanoTime() < deadline, "every tunnel has a handshake within 20 s");
                    Thread.sleep(50);
                }
                ping(namespaces.getFirst(), "10.100.3." + (2 + CONTAINERS - 1));
                Memory after = Memory.now();

                // A restart under a hundred containers: how long the stop and the reconcile take, and until every
                // tunnel has a fresh handshake.
                long t0 = System.nanoTime();
                attachments.close(false);
                long t1 = System.nanoTime();
                attachments = node.attachments();
                assertEquals(CONTAINERS, attachments.reconcile());
                long t2 = System.nanoTime();
                while (attachments.peers().stream().anyMatch(p -> p.lastHandshakeEpochNanos() == 0)) {
                    assertTrue(System.nanoTime() - t2 < 20_000_000_000L, "every tunnel handshakes again within 20 s");
                    Thread.sleep(10);
                }
                long t3 = System.nanoTime();
                ping(namespaces.getLast(), "10.100.3.2");
                System.out.printf("restart with %d containers: close(false) %d ms, reconcile %d ms, every tunnel"
                        + " handshaken %d ms after reconcile returned%n", CONTAINERS, (t1 - t0) / 1_000_000,
                        (t2 - t1) / 1_000_000, (t3 - t2) / 1_000_000);

                long[] detach = new long[CONTAINERS];
                for (int i = 0; i < CONTAINERS; i++) {
                    long t = System.nanoTime();
                    attachments.detach("ctr-" + i, "eth0");
                    detach[i] = System.nanoTime() - t;
                }
                assertEquals(0, attachments.count());
                assertEquals(List.of(), attachments.peers());

                System.out.printf("attach of %d containers: p50 %.1f ms, p99 %.1f ms, max %.1f ms%n", CONTAINERS,
                        percentile(attach, 50), percentile(attach, 99), percentile(attach, 100));
                System.out.printf("detach: p50 %.1f ms, p99 %.1f ms%n", percentile(detach, 50), percentile(detach, 99));
                System.out.printf("%d attached containers: heap +%d MiB (after GC), RSS +%d MiB, threads +%d"
                        + " (per container: heap %.2f MiB, RSS %.2f MiB, %.1f threads)%n", CONTAINERS,
                        (after.heap - before.heap) >> 20, (after.rss - before.rss) >> 20,
                        after.threads - before.threads,
                        (after.heap - before.heap) / 1048576.0 / CONTAINERS,
                        (after.rss - before.rss) / 1048576.0 / CONTAINERS,
                        (after.threads - before.threads) / (double) CONTAINERS);
                assertTrue(after.threads - before.threads <= 2, "containers have no threads of their own: +"
                        + (after.threads - before.threads));
                assertTrue((after.heap - before.heap) / CONTAINERS <= 256 * 1024, "heap per container: "
                        + (after.heap - before.heap) / CONTAINERS + " bytes");
            } finally {
                attachments.close(true);
            }
        }
    }

    private static double percentile(long[] nanos, int p) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        int i = Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1);
        return sorted[Math.max(0, i)] / 1e6;
    }

    private record Memory(long heap, long rss, int threads) {
        static Memory now() throws Exception {
            for (int i = 0; i < 3; i++) {
                System.gc();
            }
            long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long rss = 0;
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
            return new Memory(heap, rss, ManagementFactory.getThreadMXBean().getThreadCount());
        }
    }
}
