package io.wgcni.node;

import static io.wgcni.node.NodeManagerIT.awaitPing;
import static io.wgcni.node.NodeManagerIT.status;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.wgcni.api.node.v1.ListPeersRequest;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.RotateKeyRequest;
import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import io.wgcni.node.attach.Flow;
import io.wgcni.tun.Root;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Key rotation without downtime: under a TCP connection each way between containers on two nodes, node 1's key
 * and then its container's tunnel key are replaced ({@code node-manager rotate-key}); both connections deliver
 * every byte, and the longest pause in delivery around each rotation is the interruption it caused (target < 1 s;
 * the figures go to benchmarks/RESULTS.md). A rotation the cluster-manager cannot record changes nothing, and a
 * node killed after rotating comes back with the new key.
 */
class RotateKeyIT {
    /** Each way, steady: the pause a rotation causes stands out against reads a few milliseconds apart. */
    private static final long RATE = 2 << 20;
    private static final long BYTES = 24 * RATE;
    private static final long MAX_PAUSE_MILLIS = 1_000;

    @TempDir
    Path work;

    @Test
    void nodeAndContainerKeysRotateUnderTcpAndEveryByteArrives() throws Exception {
        Root.assumeTunAvailable();
        try (LocalCluster cluster = LocalCluster.start(work, 2)) {
            NodeProcess n1 = cluster.node(1);
            NodeProcess n2 = cluster.node(2);
            Container a = cluster.container(n1);
            Container b = cluster.container(n2);
            awaitPing(a, b);
            String nodeKey = status(n1).getPublicKey();
            String containerKey = containerPeer(n1, a).orElseThrow().getPublicKey();
            long quietPauseOut;
            long quietPauseIn;
            long nodePauseOut;
            long nodePauseIn;
            long containerPauseOut;
            long containerPauseIn;
            try (Flow out = new Flow(a.netns(), b.netns(), b.address(), BYTES, RATE);
                    Flow in = new Flow(b.netns(), a.netns(), a.address(), BYTES, RATE)) {
                assertTrue(out.awaitReceivedMoreThan(RATE, 20_000) && in.awaitReceivedMoreThan(RATE, 20_000),
                        "both connections carry data before the rotation");
                out.takeLongestPauseMillis();
                in.takeLongestPauseMillis();
                // The same window with nothing rotated: what the machine's noise alone gives.
                assertTrue(out.awaitReceivedMoreThan(out.received() + 2 * RATE, 20_000)
                        && in.awaitReceivedMoreThan(in.received() + 2 * RATE, 20_000), "data flows");
                quietPauseOut = out.takeLongestPauseMillis();
                quietPauseIn = in.takeLongestPauseMillis();

                String rotated = n1.cli("rotate-key").strip();
                assertNotEquals(nodeKey, rotated);
                assertEquals(rotated, status(n1).getPublicKey());
                NodeManagerIT.await("node 2 has node 1's new key", 20,
                        () -> nodePeer(n2, n1).map(p -> p.getPublicKey().equals(rotated)).orElse(false));
                assertTrue(out.awaitReceivedMoreThan(out.received() + 2 * RATE, 20_000)
                        && in.awaitReceivedMoreThan(in.received() + 2 * RATE, 20_000), "data flows after the rotation");
                nodePauseOut = out.takeLongestPauseMillis();
                nodePauseIn = in.takeLongestPauseMillis();
                assertTrue(!NodeManagerIT.wgPeers(n2).contains(nodeKey), "node 2 still has node 1's old key");

                String rotatedContainer = n1.cli("rotate-key", "--container", a.netns()).strip();
                assertNotEquals(containerKey, rotatedContainer);
                assertEquals(rotatedContainer, containerPeer(n1, a).orElseThrow().getPublicKey());
                assertTrue(out.awaitReceivedMoreThan(out.received() + 2 * RATE, 20_000)
                        && in.awaitReceivedMoreThan(in.received() + 2 * RATE, 20_000),
                        "data flows after the container's rotation");
                containerPauseOut = out.takeLongestPauseMillis();
                containerPauseIn = in.takeLongestPauseMillis();

                String[] sent = out.digests(60);
                assertEquals(sent[0], sent[1], "container -> other node: every byte, in order");
                String[] back = in.digests(60);
                assertEquals(back[0], back[1], "other node -> container: every byte, in order");
            }
            System.out.printf("RotateKeyIT: longest pause in delivery at %d KiB/s each way, out / in: nothing rotated"
                    + " %d / %d ms; node key %d / %d ms; container key %d / %d ms%n", RATE >> 10, quietPauseOut,
                    quietPauseIn, nodePauseOut, nodePauseIn, containerPauseOut, containerPauseIn);
            assertTrue(nodePauseOut < MAX_PAUSE_MILLIS && nodePauseIn < MAX_PAUSE_MILLIS,
                    "node key rotation interrupted traffic for " + nodePauseOut + " / " + nodePauseIn + " ms");
            assertTrue(containerPauseOut < MAX_PAUSE_MILLIS && containerPauseIn < MAX_PAUSE_MILLIS,
                    "container key rotation interrupted traffic for " + containerPauseOut + " / " + containerPauseIn
                            + " ms");

            // A rotation the registry cannot record is undone: the old key stays, on disk and in use.
            String current = status(n1).getPublicKey();
            byte[] stored = Files.readAllBytes(n1.dataDir.resolve(NodeKey.FILE));
            cluster.killClusterManager();
            StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                    () -> n1.api().rotateKey(RotateKeyRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode(), refused.getMessage());
            assertEquals(current, status(n1).getPublicKey());
            assertArrayEquals(stored, Files.readAllBytes(n1.dataDir.resolve(NodeKey.FILE)));
            awaitPing(a, b);
            cluster.restartClusterManager();

            // What a rotation acknowledged survives kill -9.
            String containerNow = containerPeer(n1, a).orElseThrow().getPublicKey();
            n1.kill();
            n1.start().awaitReady();
            assertEquals(current, status(n1).getPublicKey());
            assertEquals(containerNow, containerPeer(n1, a).orElseThrow().getPublicKey());
            awaitPing(a, b);
            awaitPing(b, a);
        }
    }

    private static Optional<PeerInfo> containerPeer(NodeProcess n, Container c) {
        return peers(n).stream().filter(p -> p.getKind() == PeerInfo.Kind.CONTAINER && p.getName().equals(c.netns()))
                .findFirst();
    }

    private static Optional<PeerInfo> nodePeer(NodeProcess n, NodeProcess of) {
        return peers(n).stream().filter(p -> p.getKind() == PeerInfo.Kind.NODE && p.getName().equals(of.name))
                .findFirst();
    }

    private static java.util.List<PeerInfo> peers(NodeProcess n) {
        return n.api().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList();
    }
}
