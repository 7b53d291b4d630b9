package io.wgcni.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.api.cluster.v1.Peer;
import io.wgcni.api.cluster.v1.Subnet;
import io.wgcni.api.cluster.v1.WatchPeersResponse;
import io.wgcni.api.cluster.v1.WatchPeersResponse.Kind;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.time.SystemClock;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The watch stream's messages turned into wg0 peers and routes, applied as differences. */
class PeerSyncTest {
    private Device wg0;
    private final Set<String> routes = new TreeSet<>();
    private final List<String> routeLog = new ArrayList<>();
    private final List<Peer> selfSeen = new ArrayList<>();
    private PeerSync sync;
    private final Key a = pub();
    private final Key b = pub();
    private final Key containerKey = pub();

    private static Key pub() {
        return X25519.publicKey(X25519.generatePrivateKey());
    }

    @BeforeEach
    void setUp() throws Exception {
        wg0 = new Device("wgtest", new MemoryTun("wgtest", 1420), new MemoryNetwork()
                .newBind(InetAddress.getByName("192.0.2.1")), SystemClock.INSTANCE, 1);
        wg0.setPrivateKey(X25519.generatePrivateKey());
        wg0.up();
        wg0.addAllowedIp(wg0.addPeer(containerKey), Prefix.parse("10.100.1.7/32"));
        sync = new PeerSync("self", null, wg0, new PeerSync.Routes() {
            @Override
            public void add(Prefix prefix) {
                routes.add(prefix.toString());
                routeLog.add("+" + prefix);
            }

            @Override
            public void delete(Prefix prefix) {
                routes.remove(prefix.toString());
                routeLog.add("-" + prefix);
            }
        }, List.of(Prefix.parse("10.100.1.0/24")));
    }

    @AfterEach
    void tearDown() {
        sync.close();
        wg0.close();
    }

    private static Peer node(String name, Key key, String endpoint, String... prefixes) {
        return Peer.newBuilder().setNodeName(name).setPublicKey(key.toBase64()).setEndpoint(endpoint)
                .addAllAllowedPrefixes(List.of(prefixes)).build();
    }

    private void apply(Kind kind, long revision, Peer... peers) {
        sync.apply(WatchPeersResponse.newBuilder().setKind(kind).setRevision(revision)
                .addAllPeers(List.of(peers)).build(), selfSeen::add);
    }

    @Test
    void snapshotMakesEveryOtherNodeAPeerWithRoutes() {
        apply(Kind.SNAPSHOT, 5, node("a", a, "192.0.2.2:51820", "10.100.2.0/24"),
                node("self", wg0.identity().publicKey(), "192.0.2.1:51820", "10.100.1.0/24"),
                node("b", b, "192.0.2.3:51820", "10.100.3.0/24", "fd00:100:0:3::/64"));
        assertTrue(sync.synced());
        assertEquals(5, sync.revision());
        assertEquals(3, wg0.peers().size(), "two nodes and the container");
        var pa = wg0.peer(a);
        assertEquals(Endpoint.parse("192.0.2.2:51820"), pa.endpoint());
        assertEquals(List.of(Prefix.parse("10.100.2.0/24")), pa.allowedIps());
        assertEquals(PeerSync.PERSISTENT_KEEPALIVE_SECONDS, pa.persistentKeepaliveInterval());
        assertEquals(Set.of("10.100.2.0/24", "10.100.3.0/24", "fd00:100:0:3::/64"), routes);
        assertEquals(1, selfSeen.size(), "its own entry goes to the caller, not to wg0");
    }

    @Test
    void changesAreAppliedInPlace() {
        apply(Kind.SNAPSHOT, 1, node("a", a, "192.0.2.2:51820", "10.100.2.0/24"),
                node("b", b, "192.0.2.3:51820", "10.100.3.0/24"));
        var peerA = wg0.peer(a);
        var peerB = wg0.peer(b);
        routeLog.clear();

        apply(Kind.PUT, 2, node("a", a, "192.0.2.9:4000", "10.100.2.0/24", "10.100.20.0/24"));
        assertSame(peerA, wg0.peer(a), "a new endpoint and prefix update the peer, not replace it");
        assertEquals(Endpoint.parse("192.0.2.9:4000"), peerA.endpoint());
        assertEquals(2, peerA.allowedIps().size());
        assertEquals(List.of("+10.100.20.0/24"), routeLog, "only the new prefix is routed");

        Key a2 = pub();
        routeLog.clear();
        apply(Kind.PUT, 3, node("a", a2, "192.0.2.9:4000", "10.100.2.0/24"));
        assertNull(wg0.peer(a), "the old key is gone");
        assertNotNull(wg0.peer(a2));
        assertEquals(List.of(Prefix.parse("10.100.2.0/24")), wg0.peer(a2).allowedIps());
        assertEquals(List.of("-10.100.20.0/24"), routeLog, "the kept prefix's route stays");
        assertSame(peerB, wg0.peer(b), "other nodes are untouched");

        apply(Kind.DELETE, 4, Peer.newBuilder().setNodeName("a").build());
        assertNull(wg0.peer(a2));
        assertEquals(Set.of("10.100.3.0/24"), routes);
        assertNotNull(wg0.peer(containerKey), "container peers are never touched");
    }

    @Test
    void aSnapshotRemovesNodesItNoLongerHolds() {
        apply(Kind.SNAPSHOT, 1, node("a", a, "192.0.2.2:51820", "10.100.2.0/24"),
                node("b", b, "192.0.2.3:51820", "10.100.3.0/24"));
        var peerB = wg0.peer(b);
        apply(Kind.SNAPSHOT, 9, node("b", b, "192.0.2.3:51820", "10.100.3.0/24"));
        assertNull(wg0.peer(a));
        assertSame(peerB, wg0.peer(b));
        assertEquals(Set.of("10.100.3.0/24"), routes);
        assertEquals(2, wg0.peers().size());
    }

    @Test
    void emptyPrefixesMeanTheSubnetAndBadEntriesAreSkipped() {
        apply(Kind.SNAPSHOT, 1,
                Peer.newBuilder().setNodeName("a").setPublicKey(a.toBase64()).setEndpoint("192.0.2.2:51820")
                        .setSubnet(Subnet.newBuilder().setIpv4("10.100.2.0/24")).build(),
                node("bad", pub(), "not-an-endpoint", "10.100.4.0/24"),
                node("thief", b, "192.0.2.3:51820", "10.100.1.0/25", "10.100.5.0/24"));
        assertEquals(List.of(Prefix.parse("10.100.2.0/24")), wg0.peer(a).allowedIps());
        assertEquals(List.of(Prefix.parse("10.100.5.0/24")), wg0.peer(b).allowedIps(),
                "a prefix inside this node's subnet is never taken from the containers");
        assertEquals(Set.of("10.100.2.0/24", "10.100.5.0/24"), routes);
    }

    @Test
    void closeRemovesTheNodesAndTheirRoutes() {
        apply(Kind.SNAPSHOT, 1, node("a", a, "192.0.2.2:51820", "10.100.2.0/24"));
        sync.close();
        assertEquals(1, wg0.peers().size());
        assertTrue(routes.isEmpty());
    }
}
