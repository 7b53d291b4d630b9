package io.wgcni.e2e;

import static io.wgcni.cni.PluginProcess.PLUGIN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.wgcni.api.node.v1.ListPeersRequest;
import io.wgcni.api.node.v1.NodeGrpc;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.cni.PluginProcess;
import io.wgcni.cni.Sh;
import io.wgcni.e2e.cri.PodSandboxState;
import io.wgcni.e2e.cri.PortMapping;
import io.wgcni.node.LocalCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.opentest4j.TestAbortedException;

/**
 * The plugin as Kubernetes drives it: containerd 1.6 (Debian) and its CRI plugin, one per node of a local
 * cluster (node-managers in namespaces), each running in its node's network namespace with the conflist a
 * Kubernetes user writes (examples/10-wgcni-k8s.conflist: the plugin, then portmap and bandwidth), and this test
 * as kubelet, speaking CRI v1 over
 * containerd's socket. See {@link Containerd} for how containerd is kept off the host and how the sandbox image
 * is built without a registry.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ContainerdIT {
    private Path work;
    private LocalCluster cluster;
    private final List<Containerd> runtimes = new ArrayList<>();
    /** Why this machine cannot run these tests, or null: each test then skips with it (an aborted @BeforeAll
     *  would leave the tests out of the report). */
    private String missing;

    /** examples/10-wgcni-k8s.conflist (the plugin, portmap, bandwidth) with the node's socket. */
    static String conflist(Path cniSocket) throws java.io.IOException {
        Path example = PLUGIN.toAbsolutePath().getParent().getParent()
                .resolve("examples/10-wgcni-k8s.conflist");
        String text = Files.readString(example);
        assertTrue(text.contains("/run/wgcni/cni.sock"), example + " names the default socket");
        return text.replace("/run/wgcni/cni.sock", cniSocket.toString());
    }

    @BeforeAll
    void start() throws Exception {
        try {
            Containerd.assumeInstalled();
            LocalCluster.assumeBuilt();
            io.wgcni.wg.Skip.unlessCommands("iperf3", "iperf3");
        } catch (TestAbortedException e) {
            missing = e.getMessage();
            return;
        }
        work = Files.createTempDirectory("cn-ctrd");
        cluster = LocalCluster.start(work.resolve("cluster"), 2);
        for (int n = 1; n <= 2; n++) {
            runtimes.add(Containerd.start(work.resolve("ctrd" + n), cluster.node(n).netns,
                    conflist(cluster.node(n).cniSocket)));
        }
    }

    @AfterAll
    void stop() throws Exception {
        for (Containerd c : runtimes) {
            c.close();
        }
        if (cluster != null) {
            cluster.close();
        }
        if (work != null) {
            Sh.quietly("rm", "-rf", work.toString());
        }
    }

    @BeforeEach
    void available() {
        org.junit.jupiter.api.Assumptions.assumeTrue(missing == null, missing);
    }

    private Containerd ctrd(int node) {
        return runtimes.get(node - 1);
    }

    /** What a node holds for its pods: attachments and wg0's peers. */
    record Held(int attachments, int peers) {}

    private Held held(int node) throws Exception {
        EpollEventLoopGroup group = new EpollEventLoopGroup(1);
        ManagedChannel channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(
                cluster.node(node).socket.toString())).channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group).usePlaintext().build();
        try {
            var stub = NodeGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
            return new Held(stub.status(StatusRequest.getDefaultInstance()).getAttachments(),
                    stub.listPeers(ListPeersRequest.getDefaultInstance()).getPeersCount());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    /** Pings from a pod's namespace; the first pings may wait for the three handshakes on the path. */
    private static Sh.Result ping(String fromNetns, String address) throws Exception {
        return Sh.exec(java.util.Map.of(), false, new byte[0], List.of("nsenter", "--net=" + fromNetns, "sh", "-c",
                "for i in 1 2 3 4 5 6 7; do ping -c 1 -W 2 " + address + " >/dev/null && break; done; "
                        + "ping -c 3 -i 0.2 -W 5 " + address));
    }

    @Test
    @Order(1)
    void podsOnTwoNodesTalkAndStopAndRemoveReleaseThem() throws Exception {
        Held before1 = held(1);
        Held before2 = held(2);
        String a = ctrd(1).runPodSandbox(ctrd(1).pod("web-a"));
        String b = ctrd(2).runPodSandbox(ctrd(2).pod("web-b"));
        var status = ctrd(1).status(a).getStatus();
        assertEquals(PodSandboxState.SANDBOX_READY, status.getState());
        String ipA = status.getNetwork().getIp();
        String ipB = ctrd(2).ip(b);
        assertTrue(ipA.startsWith("10.") && ipB.startsWith("10."), ipA + " " + ipB);
        assertNotEquals(ipA, ipB);
        assertEquals(new Held(before1.attachments + 1, before1.peers + 1), held(1));

        Sh.Result r = ping(ctrd(1).netnsPath(a), ipB);
        assertEquals(0, r.status(), Sh.text(r));
        assertFalse(r.stdout().contains(" 100% packet loss"), r.stdout());

        // kubelet stops a sandbox at least once before removing it, and may stop it again: each DEL succeeds.
        for (String id : List.of(a, a)) {
            ctrd(1).stopPodSandbox(id);
        }
        assertEquals(PodSandboxState.SANDBOX_NOTREADY, ctrd(1).status(a).getStatus().getState());
        assertEquals(before1, held(1), "StopPodSandbox released the pod's address and wg0 peer");
        ctrd(1).removePodSandbox(a);
        ctrd(2).stopPodSandbox(b);
        ctrd(2).removePodSandbox(b);
        assertEquals(before1, held(1));
        assertEquals(before2, held(2));
        StatusRuntimeException gone = assertThrows(StatusRuntimeException.class, () -> ctrd(1).status(a));
        assertEquals(io.grpc.Status.Code.NOT_FOUND, gone.getStatus().getCode());
    }

    @Test
    @Order(2)
    void podsKeepTheirAddressesAndTrafficAcrossAContainerdRestart() throws Exception {
        Held before1 = held(1);
        String a = ctrd(1).runPodSandbox(ctrd(1).pod("db-a"));
        String b = ctrd(2).runPodSandbox(ctrd(2).pod("db-b"));
        String ipA = ctrd(1).ip(a);
        String ipB = ctrd(2).ip(b);
        String nsA = ctrd(1).netnsPath(a);
        assertEquals(0, ping(nsA, ipB).status());

        ctrd(1).stopDaemon();
        Sh.Result during = ping(nsA, ipB);
        assertEquals(0, during.status(), "traffic goes on while containerd is down: " + Sh.text(during));
        ctrd(1).launch();

        var status = ctrd(1).status(a).getStatus();
        assertEquals(PodSandboxState.SANDBOX_READY, status.getState());
        assertEquals(ipA, status.getNetwork().getIp(), "the restarted containerd reports the same address");
        Sh.Result after = ping(nsA, ipB);
        assertEquals(0, after.status(), Sh.text(after));
        // DEL after the restart runs from libcni's cached result (kept in containerd's /var/lib/cni).
        ctrd(1).stopPodSandbox(a);
        ctrd(1).removePodSandbox(a);
        ctrd(2).stopPodSandbox(b);
        ctrd(2).removePodSandbox(b);
        assertEquals(before1, held(1));
    }

    @Test
    @Order(3)
    void aHostPortReachesThePodThroughPortmapAndGoesAwayWithIt() throws Exception {
        Held before = held(1);
        String node1 = cluster.node(1).underlayAddress();
        String a = ctrd(1).runPodSandbox(ctrd(1).pod("iperf-a").addPortMappings(PortMapping.newBuilder()
                .setContainerPort(5201).setHostPort(18080)));
        String nsA = ctrd(1).netnsPath(a);
        Process server = new ProcessBuilder("nsenter", "--net=" + nsA, "iperf3", "-s", "-p", "5201")
                .redirectErrorStream(true).redirectOutput(work.resolve("iperf3-server.log").toFile()).start();
        try {
            awaitListening(nsA, 5201);
            // From the node itself (OUTPUT) and from the other node (PREROUTING), as kube-proxy users expect.
            for (String from : List.of(cluster.node(1).netns, cluster.node(2).netns)) {
                Sh.Result r = Sh.in(from, "iperf3", "-c", node1, "-p", "18080", "-t", "1", "-f", "m");
                assertEquals(0, r.status(), "hostPort 18080 from " + from + ": " + Sh.text(r));
                assertTrue(r.stdout().contains("receiver"), r.stdout());
            }
            // A second pod asking for the same hostPort: CNI's portmap does not arbitrate (kubelet's scheduler
            // does); the pod starts, and the first rule keeps the port until its pod goes.
            String b = ctrd(1).runPodSandbox(ctrd(1).pod("iperf-b").addPortMappings(PortMapping.newBuilder()
                    .setContainerPort(5201).setHostPort(18080)));
            Sh.Result first = Sh.in(cluster.node(2).netns, "iperf3", "-c", node1, "-p", "18080", "-t", "1");
            assertEquals(0, first.status(), "the first pod keeps hostPort 18080: " + Sh.text(first));
            ctrd(1).stopPodSandbox(b);
            ctrd(1).removePodSandbox(b);
            assertEquals(0, Sh.in(cluster.node(2).netns, "iperf3", "-c", node1, "-p", "18080", "-t", "1")
                    .status(), "removing the second pod leaves the first one's mapping");
        } finally {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
        ctrd(1).stopPodSandbox(a);
        ctrd(1).removePodSandbox(a);
        assertEquals(before, held(1));
        String nat = Sh.in(cluster.node(1).netns, "iptables-save", "-t", "nat").stdout();
        assertFalse(nat.contains("18080"), "portmap's DEL removed its rules:\n" + nat);
    }

    @Test
    @Order(4)
    void aBandwidthLimitFailsThePodWithTheBandwidthPluginsErrorAndLeaksNothing() throws Exception {
        // The bandwidth plugin shapes the host side of a veth (and an ifb for egress); a pod of this plugin is on
        // a TUN inside the pod, carried by node-manager's WireGuard devices, with no host-side interface in the
        // result. cni/README.md says what to use instead.
        Held before = held(1);
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> ctrd(1).runPodSandbox(
                ctrd(1).pod("limited").putAnnotations("kubernetes.io/ingress-bandwidth", "10M")
                        .putAnnotations("kubernetes.io/egress-bandwidth", "10M")));
        assertTrue(refused.getMessage().contains("bandwidth"), refused.getMessage());
        assertEquals(before, held(1), "containerd's DEL after the failed ADD released the plugin's attachment");
    }

    @Test
    @Order(5)
    void aPodWhoseNamespaceVanishedBeforeStopIsStillReleased() throws Exception {
        Held before = held(1);
        String a = ctrd(1).runPodSandbox(ctrd(1).pod("vanish"));
        String ns = ctrd(1).netnsPath(a);
        long pid = ctrd(1).pid(a);
        // The namespace goes away for good: its path unmounted (an administrator's `ip netns delete`) and its
        // last process killed behind containerd's back, which takes the pod's TUN with it. DEL then comes with
        // a CNI_NETNS that does not exist, and must succeed and release (the specification's DEL rules).
        Sh.run("umount", ns);
        Sh.run("rm", ns);
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        ctrd(1).awaitNotReady(a);
        ctrd(1).stopPodSandbox(a);
        ctrd(1).removePodSandbox(a);
        assertEquals(before.peers, held(1).peers, "wg0 has no peer left for the pod");
        assertEquals(before, held(1), "the pod's address is released");
    }

    @Test
    @Order(6)
    void runtimeConfigOfShapesThePluginDoesNotKnowIsIgnored() throws Exception {
        // The plugin declares no capability, so containerd sends it no runtimeConfig; a runtime may still send
        // one, of shapes nobody defined. The specification: ignore what you do not understand.
        Held before = held(1);
        String ns = "/var/run/netns/" + cluster.emptyNamespace();
        String conf = "{\"cniVersion\":\"1.0.0\",\"name\":\"wgcni\",\"type\":\"wireguard\",\"socket\":\""
                + cluster.node(1).cniSocket + "\",\"runtimeConfig\":{\"portMappings\":{\"not\":\"a list\"},"
                + "\"bandwidth\":[1,2],\"io.example/future\":{\"x\":null}}}";
        Sh.Result add = PluginProcess.run(PLUGIN, PluginProcess.env("ADD", ns), conf);
        assertEquals(0, add.status(), Sh.text(add));
        assertEquals(before.attachments + 1, held(1).attachments);
        Sh.Result del = PluginProcess.run(PLUGIN, PluginProcess.env("DEL", ns), conf);
        assertEquals(0, del.status(), Sh.text(del));
        assertEquals(before, held(1));
    }

    @Test
    @Order(7)
    void runPodSandboxLatencyBesideTheReferenceBridgePlugin() throws Exception {
        int runs = Integer.getInteger("wgcni.cri.runs", 10);
        List<Long> ours = timeRunPodSandbox(ctrd(1), runs);
        String netns = cluster.emptyNamespace();
        try (Containerd bridge = Containerd.start(work.resolve("ctrd-bridge"), netns,
                "{\"cniVersion\":\"1.0.0\",\"name\":\"bridge\",\"plugins\":[{\"type\":\"bridge\",\"bridge\":\"cnbr0\","
                        + "\"isGateway\":true,\"ipMasq\":false,\"ipam\":{\"type\":\"host-local\",\"ranges\":"
                        + "[[{\"subnet\":\"10.231.9.0/24\"}]],\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}},"
                        + "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true},\"snat\":true},"
                        + "{\"type\":\"bandwidth\",\"capabilities\":{\"bandwidth\":true}}]}")) {
            List<Long> reference = timeRunPodSandbox(bridge, runs);
            String line = "RunPodSandbox p50 over " + runs + " pods, containerd 1.6 CRI, chain + portmap + bandwidth:"
                    + " wireguard " + p50(ours) + " ms, bridge + host-local " + p50(reference) + " ms";
            System.out.println(line);
            Files.writeString(Files.createDirectories(Path.of("target")).resolve("containerd-timings.txt"),
                    line + "\nwireguard ms: " + ours + "\nbridge ms: " + reference + "\n");
        }
    }

    private static List<Long> timeRunPodSandbox(Containerd c, int runs) {
        List<Long> ms = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            var pod = c.pod("timed-" + i);
            long t0 = System.nanoTime();
            String id = c.runPodSandbox(pod);
            ms.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
            c.stopPodSandbox(id);
            c.removePodSandbox(id);
        }
        return ms;
    }

    private static long p50(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }

    private static void awaitListening(String netns, int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            Sh.Result r = Sh.exec(java.util.Map.of(), false, new byte[0], List.of("nsenter", "--net=" + netns, "ss",
                    "-Hltn", "sport = :" + port));
            if (r.status() == 0 && !r.stdout().isBlank()) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("nothing listens on " + port + " in " + netns);
    }
}
