package io.wgcni.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.JoinToken;
import io.wgcni.api.cluster.v1.AllocateSubnetRequest;
import io.wgcni.api.cluster.v1.RegisterPeerRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** bin/cluster-manager end to end: serve, token create while it runs, join, admin commands, restart rules, SIGTERM. */
class CliIT {
    private Path dir;

    @BeforeEach
    void setUp() throws Exception {
        dir = Files.createTempDirectory("cm-cli");
    }

    @AfterEach
    void tearDown() {
        TestCluster.deleteTree(dir);
    }

    @Test
    void serveTokenJoinAdminAndRestart() throws Exception {
        String data = dir.resolve("data").toString();
        // Flags from the environment as well as the command line.
        Map<String, String> env = Map.of("WGCNI_DATA_DIR", data, "WGCNI_CLUSTER_CIDR", "10.77.0.0/16",
                "WGCNI_METRICS_LISTEN", "off");
        try (ServerProcess server = ServerProcess.serve(env, "--listen", "127.0.0.1:0", "--node-prefix-length", "20")) {
            ServerProcess.Result token = ServerProcess.run("token", "create", "--data-dir", data, "--ttl", "10m");
            assertEquals(0, token.exit(), token.err());
            JoinToken joinToken = JoinToken.parse(token.out().strip());

            Credentials node = ClusterClient.join(server.target(), joinToken, "node-1", dir.resolve("node-1"));
            try (ClusterClient c = ClusterClient.connect(server.target(), node)) {
                assertEquals("10.77.0.0/20", c.blocking().allocateSubnet(AllocateSubnetRequest.newBuilder()
                        .setNodeName("node-1").build()).getSubnet().getIpv4());
                c.blocking().registerPeer(RegisterPeerRequest.newBuilder().setNodeName("node-1")
                        .setPublicKey(Base64.getEncoder().encodeToString(new byte[32]))
                        .setEndpoint("192.0.2.1:51820").build());
            }

            ServerProcess.Result list = ServerProcess.run("token", "list", "--data-dir", data);
            assertTrue(list.out().startsWith(joinToken.id() + "\t"), list.out());
            assertTrue(!list.out().contains(joinToken.secret()));

            Path admin = dir.resolve("admin");
            assertEquals(0,
                    ServerProcess.run("admin-credentials", "--data-dir", data, "--out", admin.toString()).exit());
            assertEquals("admin", Credentials.load(admin).name());
            ServerProcess.Result nodes = ServerProcess.run("node", "list", "--target", server.target(),
                    "--credentials", admin.toString());
            assertEquals(0, nodes.exit(), nodes.err());
            assertTrue(nodes.out().startsWith("node-1\t10.77.0.0/20\t192.0.2.1:51820\t"), nodes.out());
            assertEquals(0, ServerProcess.run("node", "remove", "node-1", "--target", server.target(),
                    "--credentials", admin.toString()).exit());
            assertEquals("", ServerProcess.run("node", "list", "--target", server.target(),
                    "--credentials", admin.toString()).out());

            ServerProcess.Result delete = ServerProcess.run("token", "delete", "--data-dir", data, joinToken.id());
            assertEquals(0, delete.exit(), delete.err());
            assertEquals("", ServerProcess.run("token", "list", "--data-dir", data).out());

            // SIGTERM: a clean, logged shutdown.
            assertEquals(143, server.terminate());
            assertTrue(server.log().contains("cluster-manager stopped"), server.log());
        }

        // The address settings are fixed: a conflicting flag is refused with the reason, the same ones are fine.
        ServerProcess.Result conflict = ServerProcess.run("serve", "--data-dir", data, "--listen", "127.0.0.1:0",
                "--metrics-listen", "off", "--cluster-cidr", "10.78.0.0/16");
        assertEquals(1, conflict.exit());
        assertTrue(conflict.err().contains("--cluster-cidr 10.77.0.0/16 (given 10.78.0.0/16)"), conflict.err());
        try (ServerProcess again = ServerProcess.serve(Map.of(), "--data-dir", data, "--listen", "127.0.0.1:0",
                "--metrics-listen", "127.0.0.1:0", "--cluster-cidr", "10.77.0.0/16")) {
            assertTrue(again.log().contains("allocated=0"), again.log());
        }
    }

    @Test
    void helpAndBadFlags() throws Exception {
        ServerProcess.Result help = ServerProcess.run("serve", "--help");
        assertEquals(0, help.exit());
        assertTrue(help.out().contains("--cluster-cidr"), help.out());
        ServerProcess.Result bad = ServerProcess.run("serve", "--data-dir", dir.resolve("d").toString(),
                "--listen", "127.0.0.1:0", "--metrics-listen", "off", "--cluster-cidr", "10.1.2.3/16");
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("has host bits set"), bad.err());
        ServerProcess.Result ttl = ServerProcess.run("token", "create", "--data-dir", dir.resolve("d").toString(),
                "--ttl", "soon");
        assertEquals(1, ttl.exit());
        assertTrue(ttl.err().contains("--ttl"), ttl.err());
    }
}
