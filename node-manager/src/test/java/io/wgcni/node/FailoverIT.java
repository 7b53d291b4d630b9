package io.wgcni.node;

import static io.wgcni.node.NodeManagerIT.await;
import static io.wgcni.node.NodeManagerIT.awaitPing;
import static io.wgcni.node.NodeManagerIT.nodePeerNames;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import io.wgcni.wg.Skip;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real node-managers in namespaces, given three cluster-manager replicas on a 3-member etcd: losing a replica and
 * an etcd member touches no data path, and every node still follows the registry through the replicas left.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class FailoverIT {
    @TempDir
    Path dir;

    @BeforeEach
    void requirements() {
        NodeManagerIT.requirements();
        Skip.unlessCommands("etcd-server", "etcd");
    }

    @Test
    void nodesCarryOnThroughTheReplicasLeftWhenOneAndAnEtcdMemberAreKilled() throws Exception {
        try (LocalCluster cluster = LocalCluster.startHa(dir, 3, 3)) {
            List<NodeProcess> nodes = cluster.nodes();
            for (NodeProcess n : nodes) {
                await(n.name + " has the other two", 20, () -> nodePeerNames(n).size() == 2);
            }
            Container a = cluster.container(cluster.node(1));
            Container b = cluster.container(cluster.node(2));
            awaitPing(a, b);
            cluster.killReplica(1);
            cluster.killEtcdMember(1);
            long killedAt = System.nanoTime();
            // The data path never depended on the control plane.
            awaitPing(a, b);
            // A node joining now goes through the replicas left, and every node, the ones whose watch was on the
            // killed replica too, gets it.
            NodeProcess n4 = cluster.addNode().start().awaitReady();
            long readyAt = System.nanoTime();
            for (NodeProcess n : nodes) {
                await(n.name + " has node4 (its watch moved to a live replica)", 5,
                        () -> nodePeerNames(n).contains("node4"));
            }
            System.out.printf("node4 ready %d ms after the kills; every node had it %d ms after that%n",
                    (readyAt - killedAt) / 1_000_000, (System.nanoTime() - readyAt) / 1_000_000);
            for (NodeProcess n : nodes) {
                assertEquals(1, n.logText().split("Node " + n.name + " ready", -1).length - 1,
                        n.name + " did not restart");
            }
            Container d = cluster.container(n4);
            awaitPing(a, d);
            awaitPing(d, b);
        }
    }
}
