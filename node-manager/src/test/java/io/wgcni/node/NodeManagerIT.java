package io.wgcni.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.api.node.v1.CniRequest;
import io.wgcni.api.node.v1.CniResponse;
import io.wgcni.api.node.v1.ListPeersRequest;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.api.node.v1.StatusResponse;
import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import io.wgcni.tun.TcpTransfer;
import io.wgcni.wg.Skip;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real node-manager processes, each in a node namespace, with a real cluster-manager: the mesh forms, containers
 * on different nodes and on one node talk, and node-manager puts things away when it stops.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class NodeManagerIT {
    @TempDir
    Path dir;

    // Each test skips by itself: a skip in @BeforeAll would drop the tests and the reason from the reports.
    @BeforeEach
    void skipUnlessAble() {
        requirements();
    }

    static void requirements() {
        Skip.unlessRoot("the nodes run in network namespaces with TUN devices and iptables rules");
        Skip.unlessExists(Path.of("/dev/net/tun"), Skip.Reason.NO_DEVICE, "/dev/net/tun is missing");
    }

    static void await(String what, int seconds, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + seconds + " s waiting until " + what);
            }
            Thread.sleep(100);
        }
    }

    /** True when one ping from {@code ns} to {@code address} is answered within a second. */
    static boolean pings(String ns, String address) {
        try {
            LocalCluster.run("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-q", address);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static void awaitPing(Container from, Container to) throws InterruptedException {
        await(from.netns() + " pings " + to.address(), 20, () -> pings(from.netns(), to.address()));
    }

    static StatusResponse status(NodeProcess n) {
        return n.api().status(StatusRequest.getDefaultInstance());
    }

    /** The public keys `wg show IFACE peers` lists: the UAPI as wg sees it. */
    static Set<String> wgPeers(NodeProcess n) {
        try {
            return Set.of(n.exec("wg", "show", n.iface, "peers").strip().split("\\s+")).stream()
                    .filter(s -> !s.isEmpty()).collect(Collectors.toSet());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static Set<String> nodePeerNames(NodeProcess n) {
        return n.api().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList().stream()
                .filter(p -> p.getKind() == PeerInfo.Kind.NODE).map(PeerInfo::getName).collect(Collectors.toSet());
    }

    static String routes(NodeProcess n) {
        try {
            return n.exec("ip", "route", "show", "dev", n.iface);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void threeNodesFormAMeshThatCarriesContainerTraffic() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(dir, 3)) {
            List<NodeProcess> nodes = cluster.nodes();
            for (NodeProcess n : nodes) {
                StatusResponse s = status(n);
                assertTrue(s.getReady(), n.name + ": " + s.getMessage());
                assertEquals(1500 - 80, s.getMtu(), "wg0's MTU is the underlay's minus WireGuard's overhead");
                assertEquals(LocalCluster.UNDERLAY + "." + n.index + ":51820", s.getEndpoint(),
                        "the endpoint is the default route's interface address");
            }
            for (NodeProcess n : nodes) {
                Set<String> others = new HashSet<>();
                for (NodeProcess o : nodes) {
                    if (o != n) {
                        others.add(status(o).getPublicKey());
                    }
                }
                await(n.name + "'s wg0 has the other two nodes as peers", 15, () -> wgPeers(n).equals(others));
                for (NodeProcess o : nodes) {
                    if (o != n) {
                        assertTrue(routes(n).contains(status(o).getSubnetIpv4()), n.name + " routes "
                                + o.name + "'s subnet into wg0: " + routes(n));
                    }
                }
            }

            Container a = cluster.container(cluster.node(1));
            Container a2 = cluster.container(cluster.node(1));
            Container b = cluster.container(cluster.node(2));
            Container c = cluster.containerViaCni(cluster.node(3));
            CniResponse status = cluster.node(3).cni(CniRequest.newBuilder()
                    .setStatus(StatusRequest.getDefaultInstance()).build());
            assertTrue(status.getStatus().getReady());
            assertEquals(1, status.getStatus().getAttachments());
            CniResponse bad = cluster.node(3).cni(CniRequest.newBuilder().setAttach(
                    io.wgcni.api.node.v1.AttachRequest.newBuilder().setContainerId("x").setIfname("eth0")
                            .setNetns("/nonexistent")).build());
            assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT.value(), bad.getError().getCode(),
                    bad.getError().getMessage());
            awaitPing(a, b);
            awaitPing(b, a);
            awaitPing(b, c);
            awaitPing(c, a);
            awaitPing(a, a2);
            awaitPing(a2, a);
            assertTrue(pings(a.netns(), status(cluster.node(2)).getSubnetIpv4().replace(".0/24", ".1")),
                    "a container reaches another node's own address on wg0");

            TcpTransfer.Result r = TcpTransfer.run(a.netns(), c.netns(), c.address(), 100L << 20);
            assertEquals(r.sent(), r.received(), "100 MB across nodes arrive intact");
            System.out.printf("100 MB across two nodes: %.0f Mbit/s%n", r.megabitsPerSecond());
            TcpTransfer.Result local = TcpTransfer.run(a.netns(), a2.netns(), a2.address(), 20L << 20);
            assertEquals(local.sent(), local.received(), "20 MB on one node arrive intact");

            List<PeerInfo> peers = cluster.node(1).api().listPeers(ListPeersRequest.getDefaultInstance())
                    .getPeersList();
            assertEquals(2, peers.stream().filter(p -> p.getKind() == PeerInfo.Kind.CONTAINER).count());
            PeerInfo toNode3 = peers.stream().filter(p -> p.getName().equals("node3")).findFirst().orElseThrow();
            assertTrue(toNode3.getTxBytes() > 100L << 20, "wg0 counted the bytes it sent to node3");
            assertTrue(toNode3.getLatestHandshakeUnix() > 0);
        }
    }

    @Test
    void dualStackContainersTalkOverIpv6AcrossNodes() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(dir, 2, "--cluster-cidr-v6", "fd00:100::/48")) {
            StatusResponse s1 = status(cluster.node(1));
            assertFalse(s1.getSubnetIpv6().isEmpty(), "the node has an IPv6 subnet");
            Container a = cluster.container(cluster.node(1));
            Container b = cluster.container(cluster.node(2));
            assertEquals(2, b.addresses().size(), b.addresses().toString());
            String v6 = b.addresses().get(1).substring(0, b.addresses().get(1).indexOf('/'));
            awaitPing(a, b);
            await(a.netns() + " pings " + v6, 20, () -> pings(a.netns(), v6));
            assertEquals("1", cluster.node(1).exec("cat", "/proc/sys/net/ipv6/conf/all/forwarding").strip());
            assertTrue(cluster.node(1).exec("ip6tables-save").contains(":" + Hosting.FORWARD_CHAIN));
        }
    }

    @Test
    void aHostOnTheUnderlayCannotReachContainersUnencrypted() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(dir, 1)) {
            NodeProcess n = cluster.node(1);
            Container a = cluster.container(n);
            // A LAN host that routes the cluster prefix to the node, whose FORWARD policy is ACCEPT (a fresh
            // namespace's, and many hosts').
            String lan = cluster.addHost("lan", 60);
            LocalCluster.run("ip", "-n", lan, "route", "add", "10.100.0.0/16", "via",
                    LocalCluster.UNDERLAY + "." + n.index);
            assertTrue(n.exec("iptables", "-S", "FORWARD").contains("-P FORWARD ACCEPT"),
                    n.exec("iptables", "-S", "FORWARD"));
            // The container reaches the LAN host, and its replies come back (connections it opened).
            await(a.netns() + " pings the LAN host", 20, () -> pings(a.netns(), LocalCluster.UNDERLAY + ".60"));
            long before = rxPackets(a);
            // Connections the LAN host opens toward the container go nowhere: not one packet arrives.
            for (int i = 0; i < 3; i++) {
                assertFalse(pings(lan, a.address()), "the LAN host reached " + a.address() + " without WireGuard");
            }
            assertEquals(before, rxPackets(a), "packets from the LAN arrived in the container");
        }
    }

    /** Packets the container's eth0 has received. */
    private static long rxPackets(Container c) throws IOException {
        return Long.parseLong(LocalCluster.run("ip", "netns", "exec", c.netns(), "cat",
                "/sys/class/net/eth0/statistics/rx_packets").strip());
    }

    @Test
    void aCleanShutdownLeavesTheNodeAsItWas() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(dir, 1)) {
            NodeProcess n = cluster.node(1);
            // What a fresh namespace has (the kernel may copy the host's): the node had it before node-manager.
            String forwarding = LocalCluster.run("ip", "netns", "exec", cluster.hub, "cat",
                    "/proc/sys/net/ipv4/ip_forward").strip();
            String before = n.exec("iptables-save");
            assertTrue(before.contains(":" + Hosting.FORWARD_CHAIN), before);
            assertTrue(before.contains(":" + Hosting.NAT_CHAIN), before);
            assertEquals("1", n.exec("cat", "/proc/sys/net/ipv4/ip_forward").strip());
            Container a = cluster.container(n);
            assertTrue(Files.exists(n.socket) && Files.exists(n.cniSocket));
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(n.socket)));
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(n.cniSocket)));
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(n.dataDir.resolve("private.key"))));

            assertTrue(n.cli("status").startsWith("ready\nnode node1, subnet "), n.cli("status"));
            assertTrue(n.cli("peers").contains("container " + a.netns()), n.cli("peers"));
            String laptop = io.wgcni.wg.crypto.X25519.publicKey(io.wgcni.wg.crypto.X25519.generatePrivateKey())
                    .toBase64();
            String conf = n.cli("client", "add", "laptop", "--public-key", laptop);
            assertTrue(conf.contains("[Peer]\nPublicKey = " + status(n).getPublicKey()), conf);
            assertTrue(n.cli("peers").contains("client    laptop"), n.cli("peers"));
            String metrics = n.exec("curl", "-sf", "http://127.0.0.1:9711/metrics");
            assertTrue(metrics.contains("wgcni_node_ready 1"), metrics);
            assertTrue(metrics.contains("wgcni_node_attachments 1"), metrics);
            assertTrue(metrics.contains("wgcni_node_peers{kind=\"container\"} 1"), metrics);
            assertTrue(metrics.contains("wgcni_node_attach_duration_seconds_count 1"), metrics);

            n.disconnect();
            assertEquals(128 + 15, n.stop(), "the JVM's status after SIGTERM, once the shutdown hook finished");
            String after = n.exec("iptables-save");
            assertFalse(after.contains("WGCNI"), after);
            assertEquals(forwarding, n.exec("cat", "/proc/sys/net/ipv4/ip_forward").strip());
            assertFalse(n.exec("ip", "-o", "link").contains(n.iface));
            assertFalse(LocalCluster.run("ip", "-n", a.netns(), "-o", "link").contains("eth0"),
                    "the container's interface is gone");
            assertFalse(Files.exists(n.socket) || Files.exists(n.cniSocket));
            assertFalse(Files.exists(Path.of("/var/run/wireguard", n.iface + ".sock")));
        }
    }
}
