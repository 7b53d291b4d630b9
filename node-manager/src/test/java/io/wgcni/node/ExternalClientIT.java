package io.wgcni.node;

import static io.wgcni.node.NodeManagerIT.await;
import static io.wgcni.node.NodeManagerIT.pings;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.wgcni.api.node.v1.AllocateAddressRequest;
import io.wgcni.api.node.v1.ListPeersRequest;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.RegisterPeerRequest;
import io.wgcni.api.node.v1.RegisterPeerResponse;
import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A laptop with wg-quick (jwg underneath) registered through one node reaches a container on another. */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ExternalClientIT {
    @TempDir
    Path dir;

    // Each test skips by itself: a skip in @BeforeAll would drop the tests and the reason from the reports.
    @BeforeEach
    void requirements() {
        NodeManagerIT.requirements();
        io.wgcni.wg.Skip.unlessCommands("wireguard-tools", "wg-quick");
    }

    @Test
    void aWgQuickClientReachesAContainerOnAnotherNode() throws Exception {
        Path jwg = Path.of(System.getProperty("wgcni.root", ".")).toAbsolutePath().resolve("bin/jwg");
        try (LocalCluster cluster = LocalCluster.start(dir, 2)) {
            NodeProcess n1 = cluster.node(1);
            Container target = cluster.container(cluster.node(2));
            String laptop = cluster.addHost("l", 100);

            Key privateKey = X25519.generatePrivateKey();
            String publicKey = X25519.publicKey(privateKey).toBase64();
            List<String> addresses = n1.api().allocateAddress(AllocateAddressRequest.newBuilder()
                    .setClientName("laptop").build()).getAddressesList();
            RegisterPeerResponse r = n1.api().registerPeer(RegisterPeerRequest.newBuilder()
                    .setClientName("laptop").setPublicKey(publicKey).build());
            assertEquals(addresses, r.getAddressesList());

            String iface = "nm" + cluster.tag + "cl";
            Path conf = dir.resolve(iface + ".conf");
            Files.writeString(conf, String.join("\n",
                    "[Interface]",
                    "PrivateKey = " + privateKey.toBase64(),
                    "Address = " + String.join(", ", r.getAddressesList()),
                    "",
                    "[Peer]",
                    "PublicKey = " + r.getPublicKey(),
                    "Endpoint = " + r.getEndpoint(),
                    "AllowedIPs = " + String.join(", ", r.getAllowedIpsList()),
                    "PersistentKeepalive = 25",
                    ""));
            Files.setPosixFilePermissions(conf, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            LocalCluster.run("ip", "netns", "exec", laptop, "env", "WG_QUICK_USERSPACE_IMPLEMENTATION=" + jwg,
                    "wg-quick", "up", conf.toString());
            try {
                await("the laptop pings the container on node2", 20, () -> pings(laptop, target.address()));
                PeerInfo client = n1.api().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList().stream()
                        .filter(p -> p.getKind() == PeerInfo.Kind.CLIENT).findFirst().orElseThrow();
                assertEquals("laptop", client.getName());
                assertEquals(publicKey, client.getPublicKey());

                // The registration is durable: a restarted node-manager puts the client's peer back.
                n1.disconnect();
                n1.stop();
                n1.start().awaitReady();
                await("the laptop pings after node1's restart", 30, () -> pings(laptop, target.address()));
            } finally {
                LocalCluster.run("ip", "netns", "exec", laptop, "env", "WG_QUICK_USERSPACE_IMPLEMENTATION=" + jwg,
                        "wg-quick", "down", conf.toString());
            }
        }
    }
}
