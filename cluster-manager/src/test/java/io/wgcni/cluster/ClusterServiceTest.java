package io.wgcni.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.JoinToken;
import io.wgcni.api.cluster.v1.AllocateSubnetRequest;
import io.wgcni.api.cluster.v1.AllocateSubnetResponse;
import io.wgcni.api.cluster.v1.ClusterGrpc;
import io.wgcni.api.cluster.v1.JoinRequest;
import io.wgcni.api.cluster.v1.JoinResponse;
import io.wgcni.api.cluster.v1.ListPeersRequest;
import io.wgcni.api.cluster.v1.Peer;
import io.wgcni.api.cluster.v1.RegisterPeerRequest;
import io.wgcni.api.cluster.v1.RemoveNodeRequest;
import io.wgcni.api.cluster.v1.WatchPeersRequest;
import io.wgcni.api.cluster.v1.WatchPeersResponse;
import io.wgcni.api.cluster.v1.WatchPeersResponse.Kind;
import io.wgcni.cluster.auth.Pki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Cluster service end to end: a real server, real TLS on loopback, real clients (the api module's). */
class ClusterServiceTest {
    private static final String KEY1 = Base64.getEncoder().encodeToString(new byte[32]);
    private static final String KEY2 = Base64.getEncoder().encodeToString(filled(7));
    private static final String KEY3 = Base64.getEncoder().encodeToString(filled(9));

    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
    }

    private TestCluster cluster() throws Exception {
        return cluster(o -> o);
    }

    private TestCluster cluster(java.util.function.UnaryOperator<io.wgcni.cluster.ClusterDaemon.Options> tweak)
            throws Exception {
        TestCluster c = TestCluster.start(tweak);
        cleanup.add(c);
        return c;
    }

    private static byte[] filled(int b) {
        byte[] k = new byte[32];
        java.util.Arrays.fill(k, (byte) b);
        return k;
    }

    private static AllocateSubnetResponse allocate(ClusterClient c, String node) {
        return c.blocking().allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName(node).build());
    }

    private static Peer register(ClusterClient c, String node, String key, String endpoint, String... prefixes) {
        return c.blocking().registerPeer(RegisterPeerRequest.newBuilder().setNodeName(node).setPublicKey(key)
                .setEndpoint(endpoint).addAllAllowedPrefixes(List.of(prefixes)).build()).getPeer();
    }

    private static Status.Code code(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run).getStatus().getCode();
    }

    private static StatusRuntimeException failure(Runnable call) {
        return assertThrows(StatusRuntimeException.class, call::run);
    }

    @Test
    void joinWritesCredentialsWithPrivateModes() throws Exception {
        TestCluster c = cluster();
        Credentials creds = c.join("node-a");
        Path dir = c.dir.resolve("nodes/node-a");
        assertEquals("node-a", creds.name());
        assertEquals("node-a", Credentials.load(dir).name());
        assertTrue(Credentials.exist(dir));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("tls.key"))));
        for (String f : List.of("ca.key", "ca.crt", "server.key", "server.crt")) {
            assertEquals("rw-------",
                    PosixFilePermissions.toString(Files.getPosixFilePermissions(c.dir.resolve("data").resolve(f))), f);
        }
        assertEquals(c.manager.pki().ca(), creds.ca());
    }

    @Test
    void allocationIsIdempotentPerNodeAndDistinctAcrossNodes() throws Exception {
        TestCluster c = cluster();
        ClusterClient a = c.node("a");
        ClusterClient b = c.node("b");
        AllocateSubnetResponse first = allocate(a, "a");
        assertEquals("10.100.0.0/24", first.getSubnet().getIpv4());
        assertEquals("", first.getSubnet().getIpv6());
        assertEquals("10.100.0.0/16", first.getCluster().getIpv4());
        assertEquals(first, allocate(a, "a"));
        assertEquals("10.100.1.0/24", allocate(b, "b").getSubnet().getIpv4());
        assertEquals(first, allocate(a, "a"));
    }

    @Test
    void dualStackGivesEachNodeBothFamilies() throws Exception {
        TestCluster c = cluster(o -> o.withCidr("10.20.0.0/16", 26, "fd00:100::/48", 64));
        ClusterClient admin = c.admin();
        AllocateSubnetResponse r = allocate(admin, "n");
        assertEquals("10.20.0.0/26", r.getSubnet().getIpv4());
        assertEquals("fd00:100::/64", r.getSubnet().getIpv6());
        assertEquals("10.20.0.64/26", allocate(admin, "m").getSubnet().getIpv4());
        assertEquals("fd00:100:0:1::/64", allocate(admin, "m").getSubnet().getIpv6());
        assertEquals("fd00:100::/48", r.getCluster().getIpv6());
    }

    @Test
    void exhaustionIsResourceExhaustedAndReleasedSubnetsAreReusedLast() throws Exception {
        TestCluster c = cluster(o -> o.withCidr("10.9.0.0/28", 30, null, null));
        ClusterClient admin = c.admin();
        assertEquals("10.9.0.0/30", allocate(admin, "a").getSubnet().getIpv4());
        assertEquals("10.9.0.4/30", allocate(admin, "b").getSubnet().getIpv4());
        admin.blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName("a").build());
        // Never-used subnets first: a's old subnet is handed out only when nothing else is left.
        assertEquals("10.9.0.8/30", allocate(admin, "c").getSubnet().getIpv4());
        assertEquals("10.9.0.12/30", allocate(admin, "d").getSubnet().getIpv4());
        assertEquals("10.9.0.0/30", allocate(admin, "e").getSubnet().getIpv4());
        StatusRuntimeException full = failure(() -> allocate(admin, "f"));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode());
        assertTrue(full.getStatus().getDescription().contains("no free /30 subnet left in 10.9.0.0/28"),
                full.getMessage());
        // Removal makes room again; removing twice is fine.
        admin.blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName("c").build());
        admin.blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName("c").build());
        assertEquals("10.9.0.8/30", allocate(admin, "f").getSubnet().getIpv4());
    }

    @Test
    void registrationNeedsASubnetAndDefaultsToTheWholeSubnet() throws Exception {
        TestCluster c = cluster();
        ClusterClient a = c.node("a");
        assertEquals(Status.Code.FAILED_PRECONDITION, code(() -> register(a, "a", KEY1, "192.0.2.1:51820")));
        allocate(a, "a");
        Peer p = register(a, "a", KEY1, "192.0.2.1:51820");
        assertEquals(List.of("10.100.0.0/24"), p.getAllowedPrefixesList());
        assertEquals("10.100.0.0/24", p.getSubnet().getIpv4());
        Peer q = register(a, "a", KEY1, "[2001:db8::1]:51820", "10.100.0.0/25", "10.100.0.128/26");
        assertEquals(List.of("10.100.0.0/25", "10.100.0.128/26"), q.getAllowedPrefixesList());
        assertTrue(q.getRevision() > p.getRevision());
        var list = a.blocking().listPeers(ListPeersRequest.getDefaultInstance());
        assertEquals(List.of(q), list.getPeersList());
        assertTrue(list.getRevision() >= q.getRevision());
    }

    @Test
    void endpointsOtherNodesCannotUseAreRefused() throws Exception {
        TestCluster c = cluster();
        ClusterClient a = c.node("a");
        allocate(a, "a");
        Peer good = register(a, "a", KEY1, "192.0.2.1:51820");
        for (String bad : List.of("node.example:51820", "127.0.0.1:51820", "[::1]:51820", "0.0.0.0:51820",
                "[::]:51820", "224.0.0.1:51820", "255.255.255.255:51820", "169.254.1.1:51820", "[fe80::1]:51820",
                "192.0.2.1:53", "192.0.2.1:1023")) {
            StatusRuntimeException x = failure(() -> register(a, "a", KEY2, bad));
            assertEquals(Status.Code.INVALID_ARGUMENT, x.getStatus().getCode(), bad);
            assertTrue(x.getStatus().getDescription().startsWith("endpoint:"), x.getStatus().getDescription());
        }
        assertEquals(List.of(good), a.blocking().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList());
        assertEquals("192.0.2.1:1024", register(a, "a", KEY1, "192.0.2.1:1024").getEndpoint());
    }

    @Test
    void aNodeCannotRegisterAKeyAnotherNodeHolds() throws Exception {
        TestCluster c = cluster();
        ClusterClient a = c.node("a");
        ClusterClient b = c.node("b");
        allocate(a, "a");
        allocate(b, "b");
        Peer bs = register(b, "b", KEY1, "192.0.2.2:51820");
        long before = c.manager.store().revision();
        StatusRuntimeException x = failure(() -> register(a, "a", KEY1, "192.0.2.1:51820"));
        assertEquals(Status.Code.ALREADY_EXISTS, x.getStatus().getCode());
        assertTrue(x.getStatus().getDescription().startsWith("public_key:"), x.getStatus().getDescription());
        assertEquals(before, c.manager.store().revision());
        // Not even an admin may give one key to two nodes.
        ClusterClient admin = c.admin();
        assertEquals(Status.Code.ALREADY_EXISTS, code(() -> register(admin, "a", KEY1, "192.0.2.1:51820")));
        assertEquals(List.of(bs), a.blocking().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList());
        // A node re-registering its own key is fine; once it rotates away from a key, the key is free.
        register(b, "b", KEY1, "192.0.2.3:51820");
        register(b, "b", KEY2, "192.0.2.3:51820");
        assertEquals(KEY1, register(a, "a", KEY1, "192.0.2.1:51820").getPublicKey());
        assertEquals(Status.Code.ALREADY_EXISTS, code(() -> register(b, "b", KEY1, "192.0.2.3:51820")));
        // Removing a node frees its key.
        admin.blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName("a").build());
        assertEquals(KEY1, register(b, "b", KEY1, "192.0.2.3:51820").getPublicKey());
    }

    @Test
    void ofNodesRacingForOneKeyExactlyOneGetsIt() throws Exception {
        TestCluster c = cluster();
        int n = 8;
        List<ClusterClient> nodes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            nodes.add(c.node("r" + i));
            allocate(nodes.get(i), "r" + i);
        }
        ExecutorService pool = Executors.newFixedThreadPool(n);
        cleanup.add(pool::shutdownNow);
        for (int round = 0; round < 5; round++) {
            String key = Base64.getEncoder().encodeToString(filled(100 + round));
            java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(n);
            List<Future<Boolean>> won = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ClusterClient node = nodes.get(i);
                String name = "r" + i;
                won.add(pool.submit(() -> {
                    start.await();
                    try {
                        register(node, name, key, "192.0.2.9:51820");
                        return true;
                    } catch (StatusRuntimeException e) {
                        assertTrue(e.getStatus().getCode() == Status.Code.ALREADY_EXISTS
                                || e.getStatus().getCode() == Status.Code.ABORTED, e.getStatus().toString());
                        return false;
                    }
                }));
            }
            int winners = 0;
            for (Future<Boolean> f : won) {
                winners += f.get(30, TimeUnit.SECONDS) ? 1 : 0;
            }
            assertEquals(1, winners, "round " + round);
            assertEquals(1, nodes.getFirst().blocking().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList()
                    .stream().filter(p -> p.getPublicKey().equals(key)).count(), "round " + round);
        }
    }

    @Test
    void aNodeThatRegistersTooOftenIsHeldBackAndAnAdminIsNot() throws Exception {
        TestCluster c = cluster();
        ClusterClient a = c.node("a");
        allocate(a, "a");
        for (int i = 0; i < RateLimit.REGISTRATION_BURST; i++) {
            register(a, "a", KEY1, "192.0.2.1:" + (2000 + i));
        }
        long before = c.manager.store().revision();
        StatusRuntimeException x = failure(() -> register(a, "a", KEY1, "192.0.2.1:3000"));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, x.getStatus().getCode());
        assertTrue(x.getStatus().getDescription().contains("registers too often"), x.getStatus().getDescription());
        assertEquals(before, c.manager.store().revision());
        assertEquals("192.0.2.1:3001", register(c.admin(), "a", KEY1, "192.0.2.1:3001").getEndpoint());
    }

    @Test
    void invalidFieldsAreRejectedByNameAndChangeNothing() throws Exception {
        TestCluster c = cluster();
        ClusterClient a = c.node("a");
        allocate(a, "a");
        Peer good = register(a, "a", KEY1, "192.0.2.1:51820");
        Map<String, Runnable> bad = Map.of(
                "public_key", () -> register(a, "a", Base64.getEncoder().encodeToString(new byte[31]), "192.0.2.1:1"),
                "public_key ", () -> register(a, "a", "not base64!", "192.0.2.1:1"),
                "endpoint", () -> register(a, "a", KEY2, "192.0.2.1"),
                "endpoint ", () -> register(a, "a", KEY2, "192.0.2.1:0"),
                "endpoint  ", () -> register(a, "a", KEY2, "300.1.1.1:5"),
                "endpoint   ", () -> register(a, "a", KEY2, "[::1]"),
                "allowed_prefixes", () -> register(a, "a", KEY2, "192.0.2.1:51820", "10.100.1.0/24"),
                "allowed_prefixes ", () -> register(a, "a", KEY2, "192.0.2.1:51820", "10.100.0.1/24"),
                "node_name", () -> allocate(a, "Bad_Name"));
        for (var e : bad.entrySet()) {
            StatusRuntimeException x = failure(e.getValue());
            assertEquals(Status.Code.INVALID_ARGUMENT, x.getStatus().getCode(), e.getKey());
            assertTrue(x.getStatus().getDescription().startsWith(e.getKey().trim() + ":"),
                    x.getStatus().getDescription());
        }
        assertEquals(List.of(good), a.blocking().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList());
    }

    @Test
    void aNodeMayActOnlyOnItself() throws Exception {
        TestCluster c = cluster();
        ClusterClient a = c.node("a");
        ClusterClient b = c.node("b");
        allocate(b, "b");
        register(b, "b", KEY1, "192.0.2.2:51820");
        long before = c.manager.store().revision();
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> allocate(a, "b")));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> allocate(a, "c")));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> register(a, "b", KEY2, "192.0.2.1:51820")));
        assertEquals(Status.Code.PERMISSION_DENIED,
                code(() -> a.blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName("b").build())));
        // A valid token does not buy another node's identity: a name that has joined is taken until it is removed.
        Path stolen = c.dir.resolve("stolen");
        JoinToken token = c.token(Duration.ofHours(1));
        before = c.manager.store().revision();
        StatusRuntimeException taken = failure(() -> join(c, token, "b", stolen));
        assertEquals(Status.Code.PERMISSION_DENIED, taken.getStatus().getCode());
        assertTrue(taken.getStatus().getDescription().contains("node remove b"), taken.getStatus().getDescription());
        assertFalse(Credentials.exist(stolen));
        assertEquals(before, c.manager.store().revision());
        // Reading the peers is open to every member.
        assertEquals(1, a.blocking().listPeers(ListPeersRequest.getDefaultInstance()).getPeersCount());
    }

    @Test
    void badTokensGetNoCertificate() throws Exception {
        TestCluster c = cluster();
        JoinToken good = c.token(Duration.ofHours(1));
        Path dir = c.dir.resolve("bad");
        JoinToken wrongSecret = new JoinToken(good.id(), "0000000000000000", good.caKeyHash());
        JoinToken unknownId = new JoinToken("zzzzzz", good.secret(), good.caKeyHash());
        JoinToken expiring = c.token(Duration.ofSeconds(1));
        long before = c.manager.store().revision();
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> join(c, wrongSecret, "a", dir)));
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> join(c, unknownId, "a", dir)));
        Thread.sleep(1100);
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> join(c, expiring, "a", dir)));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> join(c, good, "-bad-", dir)));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> join(c, good, ClusterClient.SERVER_NAME, dir)));
        assertEquals(Status.Code.INVALID_ARGUMENT, code(() -> join(c, good, "admin", dir)));
        assertFalse(Credentials.exist(dir));
        assertEquals(before, c.manager.store().revision());
        // A token whose pin does not match the server's CA: the client refuses the server.
        JoinToken wrongPin = new JoinToken(good.id(), good.secret(), new byte[32]);
        StatusRuntimeException x = failure(() -> join(c, wrongPin, "a", dir));
        assertEquals(Status.Code.UNAVAILABLE, x.getStatus().getCode());
        assertFalse(Credentials.exist(dir));
        assertEquals(before, c.manager.store().revision());
    }

    @Test
    void aJoinWhoseReplyWasLostGetsTheSameCertificateWhenRepeated() throws Exception {
        TestCluster c = cluster();
        JoinToken token = c.token(Duration.ofHours(1));
        Path dir = c.dir.resolve("lost");
        // The node wrote its key and called Join; the server committed it; the reply never reached the node.
        KeyPair pending = Credentials.pendingKeyPair(dir);
        assertEquals("rw-------",
                PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("join.key"))));
        ManagedChannel bare = NettyChannelBuilder.forTarget(c.target, TlsChannelCredentials.newBuilder()
                        .trustManager(c.dir.resolve("data/ca.crt").toFile()).build())
                .overrideAuthority(ClusterClient.SERVER_NAME).build();
        cleanup.add(bare::shutdownNow);
        java.util.function.BiFunction<KeyPair, JoinToken, JoinResponse> rawJoin = (pair, t) -> ClusterGrpc
                .newBlockingStub(bare).join(JoinRequest.newBuilder().setNodeName("n").setToken(t.tokenPart())
                        .setPublicKeyDer(ByteString.copyFrom(pair.getPublic().getEncoded())).build());
        JoinResponse lost = rawJoin.apply(pending, token);
        assertFalse(Credentials.exist(dir));
        long before = c.manager.store().revision();
        // The retry (or the restarted node) joins again: same key, same token, same certificate, nothing new stored.
        Credentials creds = ClusterClient.join(c.target, token, "n", dir);
        assertEquals(pending.getPublic(), creds.certificate().getPublicKey());
        assertArrayEquals(lost.getCertificateDer().toByteArray(), creds.certificate().getEncoded());
        assertEquals(before, c.manager.store().revision());
        assertFalse(Files.exists(dir.resolve("join.key")));
        assertEquals("10.100.0.0/24", allocate(c.client(Credentials.load(dir)), "n").getSubnet().getIpv4());
        // Anyone else is still refused the name: another key with that token, that key with another token.
        JoinToken second = c.token(Duration.ofHours(1));
        before = c.manager.store().revision();
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> join(c, token, "n", c.dir.resolve("other"))));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> rawJoin.apply(pending, second)));
        assertEquals(before, c.manager.store().revision());
    }

    @Test
    void aFailedJoinLeavesExistingCredentialsAlone() throws Exception {
        TestCluster c = cluster();
        Credentials first = c.join("n");
        Path dir = c.dir.resolve("nodes/n");
        String key = Files.readString(dir.resolve("tls.key"));
        assertEquals(Status.Code.PERMISSION_DENIED, code(() -> join(c, c.token(Duration.ofHours(1)), "n", dir)));
        assertEquals(key, Files.readString(dir.resolve("tls.key")));
        assertEquals(first.certificate(), Credentials.load(dir).certificate());
    }

    private static void join(TestCluster c, JoinToken t, String node, Path dir) {
        try {
            ClusterClient.join(c.target, t, node, dir);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void callsWithoutAGoodCertificateAreUnauthenticated() throws Exception {
        TestCluster c = cluster();
        TestCluster other = cluster();
        // No certificate at all, over TLS that trusts the CA.
        ManagedChannel bare = NettyChannelBuilder.forTarget(c.target, TlsChannelCredentials.newBuilder()
                        .trustManager(c.dir.resolve("data/ca.crt").toFile()).build())
                .overrideAuthority(ClusterClient.SERVER_NAME).build();
        cleanup.add(bare::shutdownNow);
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> ClusterGrpc.newBlockingStub(bare)
                .allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName("a").build())));
        // Health is open to all.
        assertEquals(HealthCheckResponse.ServingStatus.SERVING,
                HealthGrpc.newBlockingStub(bare).check(HealthCheckRequest.getDefaultInstance()).getStatus());
        // A certificate from another cluster's CA, for the same name.
        KeyPair pair = Pki.newKeyPair();
        Credentials foreign = Credentials.save(c.dir.resolve("foreign"), pair.getPrivate(),
                other.manager.pki().issueNode(pair.getPublic(), "a"), c.manager.pki().ca());
        ClusterClient f = c.client(foreign);
        assertEquals(Status.Code.UNAUTHENTICATED, code(() -> allocate(f, "a")));
        assertEquals(Status.Code.UNAUTHENTICATED,
                code(() -> f.blocking().listPeers(ListPeersRequest.getDefaultInstance())));
        assertEquals(0, c.manager.store().range("ipam/node/").kvs().size());
    }

    @Test
    void rotationAndRemovalReachWatchersAndRemovalRevokesTheCertificate() throws Exception {
        TestCluster c = cluster();
        ClusterClient admin = c.admin();
        BlockingQueue<WatchPeersResponse> events = watch(admin, 0);
        WatchPeersResponse snapshot = poll(events);
        assertEquals(Kind.SNAPSHOT, snapshot.getKind());
        assertEquals(0, snapshot.getPeersCount());

        ClusterClient a = c.node("a");
        allocate(a, "a");
        Peer first = register(a, "a", KEY1, "192.0.2.1:51820");
        WatchPeersResponse put = poll(events);
        assertEquals(Kind.PUT, put.getKind());
        assertEquals(first, put.getPeers(0));
        assertEquals(first.getRevision(), put.getRevision());

        Peer rotated = register(a, "a", KEY2, "192.0.2.1:51820");
        WatchPeersResponse rotation = poll(events);
        assertEquals(KEY2, rotation.getPeers(0).getPublicKey());
        assertEquals(rotated.getRevision(), rotation.getRevision());

        long removedAt = a.blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName("a").build()).getRevision();
        WatchPeersResponse delete = poll(events);
        assertEquals(Kind.DELETE, delete.getKind());
        assertEquals("a", delete.getPeers(0).getNodeName());
        assertEquals(removedAt, delete.getRevision());
        assertNull(events.poll(200, TimeUnit.MILLISECONDS));
        // The removed node's certificate no longer works, for anything.
        StatusRuntimeException x = failure(() -> allocate(a, "a"));
        assertEquals(Status.Code.UNAUTHENTICATED, x.getStatus().getCode());
        assertTrue(x.getStatus().getDescription().contains("revoked"));
        assertEquals(Status.Code.UNAUTHENTICATED,
                code(() -> a.blocking().listPeers(ListPeersRequest.getDefaultInstance())));
        // Joining again gives a fresh certificate.
        ClusterClient again = c.node("a");
        assertEquals("10.100.1.0/24", allocate(again, "a").getSubnet().getIpv4());
    }

    @Test
    void removingANodeEndsItsOpenWatchStream() throws Exception {
        TestCluster c = cluster();
        ClusterClient a = c.node("a");
        ClusterClient b = c.node("b");
        BlockingQueue<Object> seen = new LinkedBlockingQueue<>();
        for (ClusterClient n : List.of(a, b)) {
            n.async().watchPeers(WatchPeersRequest.getDefaultInstance(), new StreamObserver<>() {
                @Override
                public void onNext(WatchPeersResponse value) {
                    seen.add(n == a ? "a" : "b");
                }

                @Override
                public void onError(Throwable t) {
                    seen.add((n == a ? "a " : "b ") + Status.fromThrowable(t).getCode());
                }

                @Override
                public void onCompleted() {
                    seen.add(n == a ? "a completed" : "b completed");
                }
            });
        }
        List<Object> snapshots = List.of(seen.poll(10, TimeUnit.SECONDS), seen.poll(10, TimeUnit.SECONDS));
        assertTrue(snapshots.containsAll(List.of("a", "b")), snapshots.toString());
        c.admin().blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName("a").build());
        assertEquals("a UNAUTHENTICATED", seen.poll(10, TimeUnit.SECONDS));
        assertNull(seen.poll(300, TimeUnit.MILLISECONDS));
        assertEquals(1, c.manager.watchers());
    }

    @Test
    void watchResumesFromARevisionAcrossARestart() throws Exception {
        Path dir = Files.createTempDirectory("cm-test");
        cleanup.add(() -> TestCluster.deleteTree(dir));
        ClusterDaemon.Options options = ClusterDaemon.Options.defaults(dir.resolve("data"));
        long mark;
        List<Peer> after = new ArrayList<>();
        try (ClusterDaemon m = ClusterDaemon.start(options);
                ClusterClient admin = ClusterClient.connect("127.0.0.1:" + m.address().getPort(),
                        ClusterDaemon.writeAdminCredentials(dir.resolve("data"), dir.resolve("admin")))) {
            allocate(admin, "a");
            allocate(admin, "b");
            mark = register(admin, "a", KEY1, "192.0.2.1:51820").getRevision();
            after.add(register(admin, "b", KEY2, "192.0.2.2:51820"));
            after.add(register(admin, "a", KEY3, "192.0.2.1:51820"));
        }
        try (TestCluster c = new TestCluster(options)) {
            ClusterClient admin = c.client(Credentials.load(dir.resolve("admin")));
            BlockingQueue<WatchPeersResponse> resumed = watch(admin, mark);
            for (Peer p : after) {
                WatchPeersResponse m = poll(resumed);
                assertEquals(Kind.PUT, m.getKind());
                assertEquals(p, m.getPeers(0));
            }
            // Live changes follow the history, in order.
            admin.blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName("b").build());
            WatchPeersResponse m = poll(resumed);
            assertEquals(Kind.DELETE, m.getKind());
            assertEquals("b", m.getPeers(0).getNodeName());
            assertNull(resumed.poll(200, TimeUnit.MILLISECONDS));
            // From a revision ahead of the store (another cluster's): a snapshot.
            WatchPeersResponse s = poll(watch(admin, 1_000_000));
            assertEquals(Kind.SNAPSHOT, s.getKind());
            assertEquals(List.of("a"), s.getPeersList().stream().map(Peer::getNodeName).toList());
        }
    }

    @Test
    void thousandConcurrentAllocationsFromFiftyClientsNeverShareASubnet() throws Exception {
        TestCluster c = cluster(o -> o.withCidr("10.0.0.0/8", 24, null, null));
        ClusterDaemon.writeAdminCredentials(c.dir.resolve("data"), c.dir.resolve("admin"));
        Credentials admin = Credentials.load(c.dir.resolve("admin"));
        List<ClusterClient> clients = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            clients.add(c.client(admin));
        }
        Map<String, String> byNode = new ConcurrentHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(50);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                ClusterClient client = clients.get(i);
                int k = i;
                futures.add(pool.submit(() -> {
                    for (int j = 0; j < 20; j++) {
                        // Every node is asked for twice, by two clients: both must get the same subnet.
                        String node = "n" + ((k * 20 + j) % 1000);
                        String twin = "n" + ((((k + 25) % 50) * 20 + j) % 1000);
                        for (String n : List.of(node, twin)) {
                            String subnet = allocate(client, n).getSubnet().getIpv4();
                            String prev = byNode.putIfAbsent(n, subnet);
                            assertTrue(prev == null || prev.equals(subnet), n + " got " + prev + " and " + subnet);
                        }
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1000, byNode.size());
        assertEquals(1000, new HashSet<>(byNode.values()).size());
        assertEquals(1000, c.manager.store().range("ipam/node/").kvs().size());
        assertEquals(1000, c.manager.store().range("ipam/index/").kvs().size());
    }

    @Test
    void metricsAreServedOverHttp() throws Exception {
        TestCluster c = cluster(o -> o.withListen(o.listen(), "127.0.0.1:0"));
        ClusterClient admin = c.admin();
        allocate(admin, "a");
        watch(admin, 0).take();
        String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + c.manager.metricsPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertTrue(text.contains("wgcni_cluster_allocations_total 1.0"), text);
        assertTrue(text.contains("wgcni_cluster_subnets_allocated 1.0"), text);
        assertTrue(text.contains("wgcni_cluster_subnets_free 255.0"), text);
        assertTrue(text.contains("wgcni_cluster_watchers 1.0"), text);
        assertTrue(text.contains(
                "wgcni_cluster_request_duration_seconds_count{code=\"OK\",method=\"AllocateSubnet\"} 1"), text);
    }

    @Test
    void aWatcherThatStopsReadingIsCutOffWithoutHoldingUpOthers() throws Exception {
        TestCluster c = cluster(o -> o.withLimits(256, 20));
        ClusterClient admin = c.admin();
        // A watcher that takes the snapshot and then reads nothing more.
        BlockingQueue<Object> slow = new LinkedBlockingQueue<>();
        ClientCallStreamObserver<?>[] slowCall = new ClientCallStreamObserver<?>[1];
        admin.async().watchPeers(WatchPeersRequest.getDefaultInstance(),
                new ClientResponseObserver<WatchPeersRequest, WatchPeersResponse>() {
                    @Override
                    public void beforeStart(ClientCallStreamObserver<WatchPeersRequest> call) {
                        slowCall[0] = call;
                        call.disableAutoRequestWithInitial(1);
                    }

                    @Override
                    public void onNext(WatchPeersResponse value) {
                        slow.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        slow.add(Status.fromThrowable(t));
                    }

                    @Override
                    public void onCompleted() {}
                });
        assertEquals(Kind.SNAPSHOT, ((WatchPeersResponse) slow.poll(10, TimeUnit.SECONDS)).getKind());
        BlockingQueue<WatchPeersResponse> fast = watch(admin, 0);
        poll(fast);
        // Fat registrations (a few KB each) fill the slow watcher's flow-control window quickly.
        int nodes = 8;
        int rounds = 60;
        List<String> prefixes = new ArrayList<>();
        for (int i = 0; i < 250; i++) {
            prefixes.add("10.100.%d.%d/32");
        }
        ExecutorService pool = Executors.newFixedThreadPool(nodes);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int n = 0; n < nodes; n++) {
                String node = "n" + n;
                int subnet = Integer.parseInt(allocate(admin, node).getSubnet().getIpv4().split("\\.")[2]);
                // Each node rotates between two keys of its own: a key belongs to one node at a time.
                String[] keys = {Base64.getEncoder().encodeToString(filled(2 * n + 1)),
                        Base64.getEncoder().encodeToString(filled(2 * n + 2))};
                done.add(pool.submit(() -> {
                    for (int r = 0; r < rounds; r++) {
                        List<String> mine = new ArrayList<>();
                        for (int i = 0; i < prefixes.size(); i++) {
                            mine.add(String.format(prefixes.get(i), subnet, i));
                        }
                        register(admin, node, r % 2 == 0 ? keys[0] : keys[1], "192.0.2.1:" + (10_000 + r),
                                mine.toArray(String[]::new));
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        // The fast watcher saw every change, in order; the slow one was dropped by the server.
        long last = 0;
        for (int i = 0; i < nodes * rounds; i++) {
            WatchPeersResponse m = poll(fast);
            assertTrue(m.getRevision() > last);
            last = m.getRevision();
        }
        assertEquals(1, c.manager.watchers());
        // Once it reads again it gets what was in flight, then the reason.
        slowCall[0].request(Integer.MAX_VALUE);
        Object end;
        do {
            end = slow.poll(10, TimeUnit.SECONDS);
        } while (end instanceof WatchPeersResponse);
        assertTrue(end instanceof Status s && s.getCode() == Status.Code.RESOURCE_EXHAUSTED, String.valueOf(end));
    }

    @Test
    void shutdownEndsWatchStreamsWithUnavailableAtOnce() throws Exception {
        TestCluster c = cluster();
        ClusterClient admin = c.admin();
        BlockingQueue<Object> q = new LinkedBlockingQueue<>();
        admin.async().watchPeers(WatchPeersRequest.getDefaultInstance(), new StreamObserver<>() {
            @Override
            public void onNext(WatchPeersResponse value) {
                q.add(value);
            }

            @Override
            public void onError(Throwable t) {
                q.add(Status.fromThrowable(t).getCode());
            }

            @Override
            public void onCompleted() {
                q.add("completed");
            }
        });
        assertTrue(q.poll(10, TimeUnit.SECONDS) instanceof WatchPeersResponse);
        long start = System.nanoTime();
        c.manager.close();
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(3), "close waited for the open stream");
        assertEquals(Status.Code.UNAVAILABLE, q.poll(10, TimeUnit.SECONDS));
        assertEquals(Status.Code.UNAVAILABLE, code(() -> allocate(admin, "a")));
    }

    static BlockingQueue<WatchPeersResponse> watch(ClusterClient client, long since) {
        BlockingQueue<WatchPeersResponse> q = new LinkedBlockingQueue<>();
        client.async().watchPeers(WatchPeersRequest.newBuilder().setSinceRevision(since).build(),
                new StreamObserver<>() {
                    @Override
                    public void onNext(WatchPeersResponse value) {
                        q.add(value);
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {}
                });
        return q;
    }

    static WatchPeersResponse poll(BlockingQueue<WatchPeersResponse> q) throws InterruptedException {
        WatchPeersResponse m = q.poll(10, TimeUnit.SECONDS);
        assertNotEquals(null, m, "no watch message within 10 s");
        return m;
    }
}
