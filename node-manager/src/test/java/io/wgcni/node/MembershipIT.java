package io.wgcni.node;

import static io.wgcni.node.NodeManagerIT.await;
import static io.wgcni.node.NodeManagerIT.awaitPing;
import static io.wgcni.node.NodeManagerIT.nodePeerNames;
import static io.wgcni.node.NodeManagerIT.routes;
import static io.wgcni.node.NodeManagerIT.status;
import static io.wgcni.node.NodeManagerIT.wgPeers;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The mesh follows the registry: a removed node leaves every other node, a rotated key replaces the old one. */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class MembershipIT {
    @TempDir
    Path dir;

    // Each test skips by itself: a skip in @BeforeAll would drop the tests and the reason from the reports.
    @BeforeEach
    void requirements() {
        NodeManagerIT.requirements();
    }

    @Test
    void aRemovedNodeLeavesThePeersAndRoutesOfTheOthers() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(dir, 3)) {
            NodeProcess n3 = cluster.node(3);
            String key3 = status(n3).getPublicKey();
            String subnet3 = status(n3).getSubnetIpv4();
            for (NodeProcess n : cluster.nodes().subList(0, 2)) {
                await(n.name + " has node3", 15, () -> wgPeers(n).contains(key3) && routes(n).contains(subnet3));
            }
            cluster.clusterManager("node", "remove", "node3");
            for (NodeProcess n : cluster.nodes().subList(0, 2)) {
                await(n.name + " drops node3's peer and route", 10, () -> !wgPeers(n).contains(key3)
                        && !routes(n).contains(subnet3) && !nodePeerNames(n).contains("node3"));
                await(n.name + " keeps the other node", 1, () -> wgPeers(n).size() == 1);
            }
        }
    }

    @Test
    void theNodesFollowTheRegistryAgainAfterTheClusterManagerRestarts() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(dir, 2)) {
            NodeProcess n1 = cluster.node(1);
            NodeProcess n2 = cluster.node(2);
            await("the two nodes peer", 15, () -> nodePeerNames(n1).contains("node2")
                    && nodePeerNames(n2).contains("node1"));
            Container a = cluster.container(n1);
            Container b = cluster.container(n2);
            cluster.restartClusterManager();
            // The data path never needed the cluster-manager; the watches reconnect (backoff up to 10 s) and
            // resume, so a node that joins afterwards reaches both.
            awaitPing(a, b);
            NodeProcess n3 = cluster.addNode().start().awaitReady();
            for (NodeProcess n : Set.of(n1, n2)) {
                await(n.name + " has node3", 20, () -> nodePeerNames(n).contains("node3"));
            }
            Container c = cluster.container(n3);
            awaitPing(a, c);
            awaitPing(c, b);
        }
    }

    @Test
    void aRotatedKeyReplacesTheOldOneOnTheOtherNodes() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(dir, 3)) {
            NodeProcess n1 = cluster.node(1);
            NodeProcess n2 = cluster.node(2);
            NodeProcess n3 = cluster.node(3);
            String old = status(n2).getPublicKey();
            await("node1 has node2's key", 15, () -> wgPeers(n1).contains(old));
            Container a = cluster.container(n1);
            Container c = cluster.container(n3);
            awaitPing(a, c);

            n2.disconnect();
            n2.stop();
            Files.delete(n2.dataDir.resolve(NodeKey.FILE));
            n2.start().awaitReady();
            String rotated = status(n2).getPublicKey();
            assertNotEquals(old, rotated);
            for (NodeProcess n : Set.of(n1, n3)) {
                await(n.name + " swaps node2's key", 10,
                        () -> wgPeers(n).contains(rotated) && !wgPeers(n).contains(old)
                                && nodePeerNames(n).size() == 2);
            }
            Container b = cluster.container(n2);
            awaitPing(a, b);
            awaitPing(b, c);
            awaitPing(a, c);
        }
    }
}
