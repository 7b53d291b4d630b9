package io.wgcni.node.attach;

import static io.wgcni.node.attach.TestNode.exec;
import static io.wgcni.node.attach.TestNode.path;
import static io.wgcni.node.attach.TestNode.ping;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import io.grpc.StatusException;
import io.wgcni.api.node.v1.AttachRequest;
import io.wgcni.api.node.v1.AttachResponse;
import io.wgcni.api.node.v1.AttachmentRef;
import io.wgcni.api.node.v1.CheckRequest;
import io.wgcni.api.node.v1.DetachRequest;
import io.wgcni.api.node.v1.GarbageCollectRequest;
import io.wgcni.api.node.v1.PeerInfo;
import io.wgcni.api.node.v1.Route;
import io.wgcni.tun.Links;
import io.wgcni.tun.Root;
import io.wgcni.tun.TcpTransfer;
import io.wgcni.wg.crypto.Key;
import java.nio.file.Files;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Containers attached to a node for real: namespaces, TUNs, the containers' devices and a wg0-like hub, with
 * traffic through them (container to node, container to container through the node).
 */
class AttachmentsIT {
    private TestNode node;
    private Attachments attachments;

    @BeforeEach
    void setUp() throws Exception {
        Root.assumeTunAvailable();
        node = new TestNode();
        node.startHub();
        attachments = node.attachments();
        assertEquals(0, attachments.reconcile());
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            if (attachments != null) {
                attachments.close(true);
            }
        } finally {
            if (node != null) {
                node.close();
            }
        }
    }

    static AttachRequest attach(String id, String netns, String ifname) {
        return attach(id, netns, ifname, "wgcni");
    }

    static AttachRequest attach(String id, String netns, String ifname, String network) {
        return AttachRequest.newBuilder().setContainerId(id).setNetns(path(netns)).setIfname(ifname)
                .setNetworkName(network).build();
    }

    static DetachRequest detach(String id, String ifname) {
        return DetachRequest.newBuilder().setContainerId(id).setIfname(ifname).build();
    }

    static CheckRequest check(String id, String netns, String ifname) {
        return CheckRequest.newBuilder().setContainerId(id).setNetns(path(netns)).setIfname(ifname).build();
    }

    static Status.Code code(Executable call) {
        return assertThrows(StatusException.class, call).getStatus().getCode();
    }

    /** Check, retried until it passes (the first handshake completes a few milliseconds after attach). */
    static void checkPasses(Attachments attachments, CheckRequest request) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (true) {
            try {
                attachments.check(request);
                return;
            } catch (StatusException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    @Test
    void attachedContainersReachTheNodeAndEachOtherThroughWireGuardAndDetachCleanly() throws Exception {
        String nsA = node.container("a");
        String nsB = node.container("b");
        AttachResponse a = attachments.attach(attach("ctr-a", nsA, "eth0"));
        AttachResponse b = attachments.attach(attach("ctr-b", nsB, "eth0"));

        assertEquals("eth0", a.getIfname());
        assertEquals(path(nsA), a.getSandbox());
        assertEquals(List.of("10.100.3.2/24", "fd00:100:0:3::2/64"), a.getAddressesList());
        assertEquals(List.of("10.100.3.1", "fd00:100:0:3::1"), a.getGatewaysList());
        assertEquals(List.of(Route.newBuilder().setDst("0.0.0.0/0").setGw("10.100.3.1").build(),
                Route.newBuilder().setDst("::/0").setGw("fd00:100:0:3::1").build()), a.getRoutesList());
        assertEquals(1400, a.getMtu());
        assertEquals(List.of("10.100.3.3/24", "fd00:100:0:3::3/64"), b.getAddressesList());
        assertEquals(2, attachments.count());

        // What the kernel has is what the response says.
        assertEquals(1400, Links.in(nsA).mtu("eth0"));
        assertTrue(exec(nsA, "ip", "-4", "route", "show", "default").contains("default via 10.100.3.1 dev eth0"));
        assertTrue(exec(nsA, "ip", "-6", "route", "show", "default").contains("default via fd00:100:0:3::1 dev eth0"));

        // The node's wg0 has one peer per container, allowed only the container's own addresses.
        Key aKey = Key.fromBase64(a.getPublicKey());
        assertEquals(List.of("10.100.3.2/32", "fd00:100:0:3::2/128"),
                node.hub.peer(aKey).allowedIps().stream().map(Object::toString).sorted().toList());

        ping(nsA, "10.100.3.1");
        ping(nsA, "10.100.3.3");
        ping(nsB, "fd00:100:0:3::2");
        TcpTransfer.Result t = TcpTransfer.run(nsA, nsB, "10.100.3.3", 32L << 20);
        assertEquals(t.sent(), t.received());
        System.out.printf("container to container through the node: %.0f Mbit/s%n", t.megabitsPerSecond());

        checkPasses(attachments, check("ctr-a", nsA, "eth0"));
        attachments.check(check("ctr-a", nsA, "eth0").toBuilder().addExpectedAddresses("10.100.3.2/24").build());
        List<PeerInfo> peers = attachments.peers();
        assertEquals(2, peers.size());
        PeerInfo pa = peers.stream().filter(p -> p.getName().equals("ctr-a")).findFirst().orElseThrow();
        assertEquals(PeerInfo.Kind.CONTAINER, pa.getKind());
        assertEquals(a.getPublicKey(), pa.getPublicKey());
        assertTrue(pa.getLatestHandshakeUnix() > 0);
        assertTrue(pa.getRxBytes() > 32L << 20, "the transfer went through wg0: " + pa.getRxBytes());

        // Check tells precisely what is wrong.
        StatusException wrong = assertThrows(StatusException.class, () -> attachments.check(
                check("ctr-a", nsA, "eth0").toBuilder().addExpectedAddresses("10.100.3.9/24").build()));
        assertEquals(Status.Code.FAILED_PRECONDITION, wrong.getStatus().getCode());
        assertTrue(wrong.getStatus().getDescription().contains("10.100.3.9/24 is not the attachment's"));
        Links.in(nsA).deleteAddress("eth0", "10.100.3.2/24");
        StatusException missing = assertThrows(StatusException.class, () -> attachments.check(check("ctr-a", nsA, "eth0")));
        assertEquals(Status.Code.FAILED_PRECONDITION, missing.getStatus().getCode());
        assertEquals("address 10.100.3.2/24 is missing from eth0", missing.getStatus().getDescription());
        exec(nsB, "ip", "-6", "route", "del", "::/0");
        assertTrue(assertThrows(StatusException.class, () -> attachments.check(check("ctr-b", nsB, "eth0")))
                .getStatus().getDescription().startsWith("default route via fd00:100:0:3::1 dev eth0 is missing"));
        assertEquals(Status.Code.NOT_FOUND, code(() -> attachments.check(check("ctr-x", nsA, "eth0"))));

        // Detach: twice, unknown, and after the namespace is gone.
        attachments.detach(detach("ctr-a", "eth0"));
        assertFalse(Links.in(nsA).exists("eth0"), "the container's interface is gone");
        assertNull(node.hub.peer(aKey), "and its peer on wg0");
        attachments.detach(detach("ctr-a", "eth0"));
        attachments.detach(detach("never-attached", "eth0"));
        assertEquals(Status.Code.NOT_FOUND, code(() -> attachments.check(check("ctr-a", nsA, "eth0"))));
        node.deleteNamespace(nsB);
        assertEquals(Status.Code.FAILED_PRECONDITION,
                code(() -> attachments.check(check("ctr-b", nsB, "eth0"))));
        attachments.detach(detach("ctr-b", "eth0"));
        assertEquals(0, attachments.count());
        assertEquals(0, node.hub.peers().size());

        // Released: the next container gets the lowest address again.
        String nsC = node.container("c");
        assertEquals("10.100.3.2/24", attachments.attach(attach("ctr-c", nsC, "eth0")).getAddresses(0));
    }

    /**
     * A container answers the moment its Attach returns: its handshake with wg0 was started by the attach itself.
     * (Traffic for it arriving while that handshake is under way must not make wg0 start a crossing one, which
     * would cost 5 s; that race needs a loaded machine to show, see ContainerTunnel.)
     */
    @Test
    void aContainerIsReachableTheMomentItsAttachReturns() throws Exception {
        String nsA = node.container("a");
        attachments.attach(attach("ctr-a", nsA, "eth0"));
        ping(nsA, "10.100.3.1");
        long worst = 0;
        for (int i = 0; i < 8; i++) {
            String ns = node.container("n" + i);
            String address = attachments.attach(attach("ctr-n" + i, ns, "eth0")).getAddresses(0).split("/")[0];
            worst = Math.max(worst, TestNode.firstReplyMillis(nsA, address));
            attachments.detach(detach("ctr-n" + i, "eth0"));
        }
        System.out.println("first reply from a container just attached: at worst " + worst + " ms");
        assertTrue(worst < 3000, worst + " ms");
    }

    @Test
    void aRepeatedAttachAnswersTheSameAndATakenNameIsRefused() throws Exception {
        String ns = node.container("a");
        AttachResponse first = attachments.attach(attach("ctr-a", ns, "eth0"));
        assertEquals(first, attachments.attach(attach("ctr-a", ns, "eth0")), "idempotent");
        assertEquals(1, attachments.count());

        // Another container's name in the same namespace, or a link that is not ours at all.
        assertEquals(Status.Code.ALREADY_EXISTS, code(() -> attachments.attach(attach("ctr-b", ns, "eth0"))));
        Links.in(ns).ip("link", "add", "eth1", "type", "veth", "peer", "name", "eth2");
        StatusException taken = assertThrows(StatusException.class, () -> attachments.attach(attach("ctr-a", ns, "eth1")));
        assertEquals(Status.Code.ALREADY_EXISTS, taken.getStatus().getCode());
        assertTrue(taken.getStatus().getDescription().startsWith("ifname:"), taken.getStatus().getDescription());
        assertTrue(Links.in(ns).exists("eth1"), "left alone");
        assertEquals(1, attachments.count(), "nothing recorded for the refused ones");

        // Chained after another interface: without replace_default_route the existing default route stays, and
        // the attach fails with nothing left behind.
        StatusException routed = assertThrows(StatusException.class, () -> attachments.attach(attach("ctr-a", ns, "net1")));
        assertEquals(Status.Code.FAILED_PRECONDITION, routed.getStatus().getCode());
        assertTrue(routed.getStatus().getDescription().contains("replace_default_route"));
        assertFalse(Links.in(ns).exists("net1"));
        assertEquals(1, attachments.count());

        // A second interface of the same container is a second attachment with its own address.
        AttachResponse second = attachments.attach(attach("ctr-a", ns, "net1").toBuilder()
                .setReplaceDefaultRoute(true).setMtu(1300).build());
        assertEquals("10.100.3.3/24", second.getAddresses(0));
        assertEquals(1300, Links.in(ns).mtu("net1"));
        String routes = exec(ns, "ip", "-4", "route", "show", "default");
        assertEquals("default via 10.100.3.1 dev net1", routes.strip(), "the default route moved to net1");
        checkPasses(attachments, check("ctr-a", ns, "net1"));
        assertTrue(assertThrows(StatusException.class, () -> attachments.check(check("ctr-a", ns, "eth0")))
                .getStatus().getDescription().contains("default route via 10.100.3.1 dev eth0 is missing"));
    }

    @Test
    void badInputIsRefusedNamingTheFieldAndChangesNothing() throws Exception {
        String ns = node.container("a");
        Predicate<StatusException> any = e -> true;
        assertInvalid(() -> attachments.attach(attach("", ns, "eth0")), "container_id");
        assertInvalid(() -> attachments.attach(attach("ctr a", ns, "eth0")), "container_id");
        assertInvalid(() -> attachments.attach(attach("ctr-a", ns, "")), "ifname");
        assertInvalid(() -> attachments.attach(attach("ctr-a", ns, "sixteen-chars-xx")), "ifname");
        assertInvalid(() -> attachments.attach(attach("ctr-a", ns, "eth/0")), "ifname");
        var notNs = Files.createTempFile(node.dataDir, "not-a-netns", "");
        assertInvalid(() -> attachments.attach(attach("ctr-a", ns, "eth0").toBuilder().setNetns(notNs.toString())
                .build()), "netns");
        assertInvalid(() -> attachments.attach(attach("ctr-a", ns, "eth0").toBuilder().setNetns("/proc/self/ns/uts")
                .build()), "netns");
        assertInvalid(() -> attachments.attach(attach("ctr-a", ns, "eth0").toBuilder().setNetns("").build()), "netns");
        assertInvalid(() -> attachments.attach(attach("ctr-a", ns, "eth0").toBuilder().setMtu(9000).build()), "mtu");
        assertInvalid(() -> attachments.detach(detach("", "eth0")), "container_id");
        assertEquals(0, attachments.count());
        assertFalse(Links.in(ns).exists("eth0"));
    }

    private static void assertInvalid(Executable call, String field) {
        StatusException e = assertThrows(StatusException.class, call);
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().startsWith(field + ":"), e.getStatus().getDescription());
    }

    @Test
    void garbageCollectionDetachesAllButTheValidOnes() throws Exception {
        String nsA = node.container("a");
        String nsB = node.container("b");
        String nsC = node.container("c");
        attachments.attach(attach("ctr-a", nsA, "eth0"));
        attachments.attach(attach("ctr-b", nsB, "eth0"));
        attachments.attach(attach("ctr-c", nsC, "eth0"));
        AttachmentRef keep = AttachmentRef.newBuilder().setContainerId("ctr-b").setIfname("eth0").build();
        List<AttachmentRef> released = attachments.garbageCollect(GarbageCollectRequest.newBuilder()
                .setNetworkName("wgcni").addValid(keep).build());
        assertEquals(List.of("ctr-a", "ctr-c"), released.stream().map(AttachmentRef::getContainerId).sorted().toList());
        assertEquals(1, attachments.count());
        assertFalse(Links.in(nsA).exists("eth0"));
        assertFalse(Links.in(nsC).exists("eth0"));
        ping(nsB, "10.100.3.1");
        assertNotEquals(0, node.hub.peers().size());
    }

    @Test
    void garbageCollectionAndCheckActWithinOneNetwork() throws Exception {
        String nsA = node.container("a");
        String nsC = node.container("c");
        attachments.attach(attach("ctr-a", nsA, "eth0", "net-a"));
        attachments.attach(attach("ctr-a", nsA, "eth1", "net-b").toBuilder().setReplaceDefaultRoute(true).build());
        attachments.attach(attach("ctr-c", nsC, "eth0", "net-a"));
        // CHECK of one network does not see the other's interface.
        checkPasses(attachments, check("ctr-a", nsA, "eth1").toBuilder().setNetworkName("net-b").build());
        assertEquals(Status.Code.NOT_FOUND, code(() -> attachments.check(check("ctr-a", nsA, "eth1").toBuilder()
                .setNetworkName("net-a").build())));
        // GC of net-b with nothing valid releases net-b's eth1 only; net-a's eth0 in the same container stays.
        List<AttachmentRef> released = attachments.garbageCollect(GarbageCollectRequest.newBuilder()
                .setNetworkName("net-b").build());
        assertEquals(List.of("ctr-a/eth1"), released.stream().map(r -> r.getContainerId() + "/" + r.getIfname()).toList());
        assertFalse(Links.in(nsA).exists("eth1"));
        assertTrue(Links.in(nsA).exists("eth0"));
        // GC of net-a keeping ctr-a's eth0 releases ctr-c only.
        AttachmentRef keep = AttachmentRef.newBuilder().setContainerId("ctr-a").setIfname("eth0").build();
        released = attachments.garbageCollect(GarbageCollectRequest.newBuilder().setNetworkName("net-a").addValid(keep)
                .build());
        assertEquals(List.of("ctr-c/eth0"), released.stream().map(r -> r.getContainerId() + "/" + r.getIfname()).toList());
        assertEquals(1, attachments.count());
        ping(nsA, "10.100.3.1");
        // A GC that names no network is refused: it cannot know what is its own.
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> attachments.garbageCollect(
                GarbageCollectRequest.getDefaultInstance())));
        assertEquals(1, attachments.count());
    }

    @Test
    void aSweepReleasesWhatADelThatNeverArrivedLeftBehind() throws Exception {
        String nsA = node.container("a");
        String nsB = node.container("b");
        attachments.attach(attach("ctr-a", nsA, "eth0"));
        attachments.attach(attach("ctr-b", nsB, "eth0"));
        int peers = node.hub.peers().size();
        assertEquals(List.of(), attachments.sweep(), "nothing is gone yet");
        // The runtime deleted ctr-a's namespace without a DEL reaching node-manager.
        io.wgcni.tun.Netns.delete(nsA);
        List<AttachmentRef> released = attachments.sweep();
        assertEquals(List.of("ctr-a/eth0"), released.stream().map(r -> r.getContainerId() + "/" + r.getIfname()).toList());
        assertEquals(1, attachments.count());
        assertEquals(peers - 1, node.hub.peers().size(), "its wg0 peer is gone too");
        // Its address is free again: the next container gets it.
        String nsC = node.container("c");
        var c = attachments.attach(attach("ctr-c", nsC, "eth0"));
        assertEquals("10.100.3.2/24", c.getAddresses(0));
        ping(nsB, "10.100.3.1");
    }
}
