package io.wgcni.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.v1.AllocateSubnetRequest;
import io.wgcni.cluster.store.SqliteStore;
import io.wgcni.cluster.store.Store.KeyValue;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * kill -9 in the middle of a stream of allocations: everything acknowledged before the kill is still there after
 * it, with the same subnet, and no subnet is held twice.
 */
class DurabilityIT {
    private static final int CLIENTS = 8;

    @Test
    void acknowledgedAllocationsSurviveSigkill() throws Exception {
        Path dir = Files.createTempDirectory("cm-durable");
        try {
            String data = dir.resolve("data").toString();
            Map<String, String> acked = new ConcurrentHashMap<>();
            Path admin = dir.resolve("admin");
            try (ServerProcess server = ServerProcess.serve(Map.of(), "--data-dir", data, "--listen", "127.0.0.1:0",
                    "--metrics-listen", "off", "--cluster-cidr", "10.0.0.0/8")) {
                assertEquals(0,
                        ServerProcess.run("admin-credentials", "--data-dir", data, "--out", admin.toString()).exit());
                Credentials creds = Credentials.load(admin);
                AtomicBoolean killed = new AtomicBoolean();
                List<Thread> threads = new ArrayList<>();
                List<ClusterClient> clients = new ArrayList<>();
                for (int t = 0; t < CLIENTS; t++) {
                    ClusterClient c = ClusterClient.connect(server.target(), creds);
                    clients.add(c);
                    int id = t;
                    threads.add(Thread.ofPlatform().start(() -> {
                        for (int i = 0; !killed.get() && i < 100_000; i++) {
                            String node = "c" + id + "-" + i;
                            try {
                                String subnet = c.blocking().withDeadlineAfter(10, TimeUnit.SECONDS)
                                        .allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName(node).build())
                                        .getSubnet().getIpv4();
                                acked.put(node, subnet);
                            } catch (RuntimeException e) {
                                return; // the server is gone
                            }
                        }
                    }));
                }
                // Let the stream run, then kill the server in the middle of it.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (acked.size() < 1500 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                server.kill();
                killed.set(true);
                for (Thread t : threads) {
                    t.join(15_000);
                }
                clients.forEach(ClusterClient::close);
                assertTrue(acked.size() >= 200, "only " + acked.size() + " allocations before the kill");
            }

            // What the killed process left on disk: every acknowledged node, and each index held once.
            Map<String, Integer> stored = new HashMap<>();
            try (SqliteStore store = new SqliteStore(dir.resolve("data").resolve(ClusterDaemon.STORE_FILE), 1)) {
                for (KeyValue kv : store.range("ipam/node/").kvs()) {
                    stored.put(kv.key().substring("ipam/node/".length()),
                            Integer.parseInt(new String(kv.value(), StandardCharsets.UTF_8)));
                }
                assertEquals(stored.size(), store.range("ipam/index/").kvs().size());
            }
            assertTrue(stored.keySet().containsAll(acked.keySet()), "acknowledged allocations lost: "
                    + acked.keySet().stream().filter(n -> !stored.containsKey(n)).limit(10).toList());
            assertEquals(stored.size(), new HashSet<>(stored.values()).size(), "a subnet is held by two nodes");

            // Restarted on the same data directory: the same subnets, none held twice, and new ones still unique.
            try (ServerProcess server = ServerProcess.serve(Map.of(), "--data-dir", data, "--listen", "127.0.0.1:0",
                    "--metrics-listen", "off");
                    ClusterClient c = ClusterClient.connect(server.target(), Credentials.load(admin))) {
                assertTrue(server.log().contains("allocated=" + stored.size()), server.log());
                for (var e : acked.entrySet()) {
                    assertEquals(e.getValue(), c.blocking().allocateSubnet(AllocateSubnetRequest.newBuilder()
                            .setNodeName(e.getKey()).build()).getSubnet().getIpv4(), e.getKey());
                }
                var fresh =
                        c.blocking().allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName("after").build());
                assertTrue(!acked.containsValue(fresh.getSubnet().getIpv4()));
            }
            System.out.printf("durability: %d allocations acknowledged before SIGKILL, %d stored%n", acked.size(),
                    stored.size());
        } finally {
            TestCluster.deleteTree(dir);
        }
    }
}
