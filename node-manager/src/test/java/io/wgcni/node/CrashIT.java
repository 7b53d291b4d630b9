package io.wgcni.node;

import static io.wgcni.node.NodeManagerIT.awaitPing;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.grpc.StatusRuntimeException;
import io.wgcni.api.node.v1.ListPeersRequest;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import io.wgcni.tun.TcpTransfer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** node-manager killed with -9: the containers' connections survive, and no address is ever handed out twice. */
@Tag("long")
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class CrashIT {
    @TempDir
    Path dir;

    // Each test skips by itself: a skip in @BeforeAll would drop the tests and the reason from the reports.
    @BeforeEach
    void requirements() {
        NodeManagerIT.requirements();
    }

    @Test
    void aTcpTransferSurvivesKillNineOfANodeManager() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(dir, 2)) {
            NodeProcess n2 = cluster.node(2);
            Container a = cluster.container(cluster.node(1));
            Container b = cluster.container(n2);
            awaitPing(a, b);
            long bytes = 400L << 20;
            // On a thread of its own, not the common pool: TcpTransfer's receiver runs there.
            CompletableFuture<TcpTransfer.Result> transfer = CompletableFuture.supplyAsync(() -> {
                try {
                    return TcpTransfer.run(a.netns(), b.netns(), b.address(), bytes);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, task -> Thread.ofPlatform().daemon().start(task));
            Thread.sleep(1500);
            assertTrue(!transfer.isDone(), "the transfer is still running when node-manager dies");
            n2.disconnect();
            n2.kill();
            long killed = System.nanoTime();
            // A call while nothing listens leaves a channel that remembers the refused connect (SoakIT met one, a
            // call racing a kill): the restarted node must not inherit it, or bytesToContainer below may fail fast.
            assertThrows(StatusRuntimeException.class, () -> n2.api().status(StatusRequest.getDefaultInstance()));
            n2.start().awaitReady();
            long ready = System.nanoTime();
            // Traffic has resumed once wg0 on the restarted node hands the container a megabyte more (a ping is no
            // measure here: it queues behind the transfer).
            long base = bytesToContainer(n2);
            while (bytesToContainer(n2) < base + (1 << 20)) {
                if (System.nanoTime() - ready > TimeUnit.SECONDS.toNanos(15)) {
                    fail("the transfer did not resume within 15 s of the restart\n" + LocalCluster.run("wg", "show",
                            "all") + "\n" + LocalCluster.run("ip", "netns", "exec", b.netns(), "ss", "-tin"));
                }
                Thread.sleep(20);
            }
            long resumed = System.nanoTime();
            // The data path comes back before "ready" (which waits for the cluster-manager); what remains is TCP's
            // own retransmission backoff, which doubled during the outage.
            System.out.printf("kill -9 and restart -> ready %.1f s, -> traffic flowing %.1f s%n",
                    (ready - killed) / 1e9, (resumed - killed) / 1e9);
            TcpTransfer.Result r = transfer.get(180, TimeUnit.SECONDS);
            assertEquals(r.sent(), r.received(), "every byte arrived, in order, once");
        }
    }

    @Test
    void noAddressIsHandedOutTwiceAcross200CyclesWithRandomKills() throws Exception {
        Random random = new Random();
        try (LocalCluster cluster = LocalCluster.start(dir, 1)) {
            NodeProcess n = cluster.node(1);
            List<String> pool = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                pool.add(cluster.emptyNamespace());
            }
            Map<String, String> attached = new HashMap<>(); // netns -> address
            int kills = 0;
            for (int cycle = 0; cycle < 200; cycle++) {
                List<String> free = pool.stream().filter(ns -> !attached.containsKey(ns)).toList();
                boolean attach = attached.isEmpty() || (!free.isEmpty() && random.nextBoolean());
                String ns = attach ? free.get(random.nextInt(free.size()))
                        : List.copyOf(attached.keySet()).get(random.nextInt(attached.size()));
                if (random.nextInt(25) == 0) {
                    // Kill it in the middle of the call: the call's outcome is unknown, so undo it afterwards.
                    n.killDuring(attach ? () -> LocalCluster.attach(n, ns) : () -> LocalCluster.detach(n, ns),
                            random, 40);
                    kills++;
                    LocalCluster.detach(n, ns);
                    attached.remove(ns);
                } else if (attach) {
                    String address = LocalCluster.attach(n, ns).address();
                    assertTrue(!attached.containsValue(address), address + " handed out twice: " + attached);
                    attached.put(ns, address);
                } else {
                    LocalCluster.detach(n, ns);
                    attached.remove(ns);
                }
                Set<String> held = new HashSet<>();
                for (PeerInfo p : n.api().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList()) {
                    if (p.getKind() == PeerInfo.Kind.CONTAINER) {
                        assertTrue(held.add(p.getAllowedIps(0)), "two containers hold " + p.getAllowedIps(0));
                    }
                }
                assertEquals(attached.size(), held.size(), "cycle " + cycle + ": the node's containers");
            }
            System.out.printf("200 attach/detach cycles, %d kills%n", kills);
        }
    }

    /** What wg0 sent to the node's (one) container so far. */
    private static long bytesToContainer(NodeProcess n) {
        return n.api().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList().stream()
                .filter(p -> p.getKind() == PeerInfo.Kind.CONTAINER).mapToLong(PeerInfo::getTxBytes).sum();
    }
}
