package io.wgcni.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.JoinToken;
import io.wgcni.api.cluster.v1.AllocateSubnetRequest;
import io.wgcni.api.cluster.v1.ListPeersRequest;
import io.wgcni.api.cluster.v1.Peer;
import io.wgcni.api.cluster.v1.RegisterPeerRequest;
import io.wgcni.api.cluster.v1.WatchPeersRequest;
import io.wgcni.api.cluster.v1.WatchPeersResponse;
import io.wgcni.cluster.store.EtcdCluster;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three cluster-manager processes (bin/cluster-manager) on one real 3-member etcd, all on loopback; nodes are the
 * api module's client, as node-manager uses it, given every replica's address.
 */
class ReplicasIT {
    @TempDir
    Path dir;
    EtcdCluster etcd;
    final List<ServerProcess> replicas = new ArrayList<>();
    final List<ClusterClient> clients = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        EtcdCluster.assumeInstalled();
        etcd = EtcdCluster.start(Files.createDirectories(dir.resolve("etcd")), 3);
        for (int i = 0; i < 3; i++) {
            Path data = Files.createDirectories(dir.resolve("cm" + i));
            if (i > 0) {
                // The CA is given to each replica as files, never through etcd.
                for (String f : List.of("ca.crt", "ca.key")) {
                    Files.copy(dir.resolve("cm0").resolve(f), data.resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
            replicas.add(ServerProcess.serve(Map.of(), "--data-dir", data.toString(), "--listen", "127.0.0.1:0",
                    "--metrics-listen", "off", "--store", etcd.url("/ha/")));
        }
    }

    @AfterEach
    void stop() throws Exception {
        for (ClusterClient c : clients) {
            c.close();
        }
        for (ServerProcess r : replicas) {
            r.close();
        }
        if (etcd != null) {
            etcd.close();
        }
    }

    String all() {
        return String.join(",", replicas.stream().map(ServerProcess::target).toList());
    }

    JoinToken token() throws Exception {
        ServerProcess.Result r = ServerProcess.run("token", "create", "--data-dir", dir.resolve("cm1").toString(),
                "--store", etcd.url("/ha/"));
        assertEquals(0, r.exit(), r.err());
        return JoinToken.parse(r.out().strip());
    }

    ClusterClient node(String target, JoinToken token, String name) throws Exception {
        Credentials c = ClusterClient.join(target, token, name, dir.resolve("nodes").resolve(name));
        ClusterClient client = ClusterClient.connect(target, c);
        clients.add(client);
        return client;
    }

    static String key(int i) {
        byte[] k = new byte[32];
        k[0] = (byte) i;
        k[1] = (byte) (i >> 8);
        k[31] = 7;
        return Base64.getEncoder().encodeToString(k);
    }

    /** Calls until it works, as node-manager does: UNAVAILABLE and DEADLINE_EXCEEDED are retried with backoff. */
    static <T> T retrying(java.util.concurrent.Callable<T> call) throws Exception {
        long backoff = 100;
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try {
                return call.call();
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                if ((code != Status.Code.UNAVAILABLE && code != Status.Code.DEADLINE_EXCEEDED
                        && code != Status.Code.ABORTED) || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            Thread.sleep(backoff);
            backoff = Math.min(backoff * 2, 2_000);
        }
    }

    /** A watcher as node-manager's PeerSync: resumes at its last revision, on whichever replica answers. */
    static final class Watcher implements AutoCloseable {
        final Map<String, Peer> peers = new ConcurrentHashMap<>();
        final Map<String, Long> seenAt = new ConcurrentHashMap<>();
        final AtomicLong revision = new AtomicLong();
        final AtomicInteger streams = new AtomicInteger();
        /** When the first message of a second stream arrived: the watch had moved to another replica. */
        volatile long resumedAt;
        /** The port of the replica the current stream is on, as the transport saw it; 0 before the first. */
        volatile int replicaPort;
        private volatile boolean firstOfStream;
        private final Thread thread;
        private volatile Context.CancellableContext call;
        private volatile boolean closed;

        Watcher(ClusterClient client) {
            thread = Thread.ofPlatform().daemon().start(() -> {
                long backoff = 250;
                while (!closed) {
                    Context.CancellableContext ctx = Context.current().withCancellation();
                    call = ctx;
                    try {
                        ctx.run(() -> {
                            streams.incrementAndGet();
                            firstOfStream = true;
                            Iterator<WatchPeersResponse> it = client.blocking().withInterceptors(
                                    new RemotePort()).watchPeers(
                                    WatchPeersRequest.newBuilder().setSinceRevision(revision.get()).build());
                            while (it.hasNext()) {
                                apply(it.next());
                            }
                        });
                    } catch (RuntimeException e) {
                        // the replica went away: retry, on another
                    } finally {
                        ctx.cancel(null);
                    }
                    try {
                        Thread.sleep(backoff);
                    } catch (InterruptedException e) {
                        return;
                    }
                    backoff = Math.min(backoff * 2, 2_000);
                }
            });
        }

        /** Records which replica round robin put the stream on: the test kills the one holding the most. */
        private final class RemotePort implements ClientInterceptor {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options,
                    Channel next) {
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
                    @Override
                    public void start(Listener<R> listener, Metadata headers) {
                        ClientCall<Q, R> call = delegate();
                        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                            @Override
                            public void onHeaders(Metadata h) {
                                if (call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)
                                        instanceof InetSocketAddress a) {
                                    replicaPort = a.getPort();
                                }
                                super.onHeaders(h);
                            }
                        }, headers);
                    }
                };
            }
        }

        private void apply(WatchPeersResponse m) {
            long now = System.nanoTime();
            if (firstOfStream && streams.get() > 1 && resumedAt == 0) {
                resumedAt = now;
            }
            firstOfStream = false;
            switch (m.getKind()) {
                case SNAPSHOT -> {
                    peers.clear();
                    m.getPeersList().forEach(p -> peers.put(p.getNodeName(), p));
                }
                case PUT -> m.getPeersList().forEach(p -> peers.put(p.getNodeName(), p));
                case DELETE -> m.getPeersList().forEach(p -> peers.remove(p.getNodeName()));
                default -> throw new IllegalStateException("unexpected " + m.getKind());
            }
            for (Peer p : m.getPeersList()) {
                seenAt.putIfAbsent(p.getNodeName() + "@" + p.getPublicKey(), now);
            }
            revision.set(m.getRevision());
        }

        @Override
        public void close() {
            closed = true;
            Context.CancellableContext c = call;
            if (c != null) {
                c.cancel(null);
            }
        }
    }

    @Test
    void aReplicaKilledDuringAStormOfJoinsLosesNothingAndItsWatchersMoveOn() throws Exception {
        JoinToken token = token();
        // Watchers spread over the replicas by round robin, each given all three. Which replica a stream lands
        // on is gRPC's choice (ci9 put none of 12 on replica 0), so the replica killed is the one holding most.
        List<Watcher> watchers = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            watchers.add(new Watcher(node(all(), token, "watcher" + i)));
        }
        long placed = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (watchers.stream().anyMatch(w -> w.replicaPort == 0) && System.nanoTime() < placed) {
            Thread.sleep(20);
        }
        assertTrue(watchers.stream().noneMatch(w -> w.replicaPort == 0), "every watcher has a stream");
        List<ServerProcess> live = new ArrayList<>(replicas);
        ServerProcess victim = live.stream().max(java.util.Comparator.comparingLong(
                r -> watchers.stream().filter(w -> w.replicaPort == r.port).count())).orElseThrow();
        live.remove(victim);
        List<Watcher> onVictim = watchers.stream().filter(w -> w.replicaPort == victim.port).toList();
        int workers = 8;
        int perWorker = 25;
        Map<String, String> acknowledged = new ConcurrentHashMap<>();
        AtomicInteger failures = new AtomicInteger();
        CountDownLatch enough = new CountDownLatch(60);
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        List<Future<?>> done = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            int worker = w;
            done.add(pool.submit(() -> {
                for (int i = 0; i < perWorker; i++) {
                    String name = "n" + worker + "-" + i;
                    int id = worker * perWorker + i;
                    try {
                        ClusterClient c = retrying(() -> node(all(), token, name));
                        String subnet = retrying(() -> c.blocking().withDeadlineAfter(10, TimeUnit.SECONDS)
                                .allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName(name).build()))
                                .getSubnet().getIpv4();
                        retrying(() -> c.blocking().withDeadlineAfter(10, TimeUnit.SECONDS).registerPeer(
                                RegisterPeerRequest.newBuilder().setNodeName(name).setPublicKey(key(id))
                                        .setEndpoint("192.0.2.1:" + (10000 + id)).build()));
                        acknowledged.put(name, subnet);
                        enough.countDown();
                    } catch (Exception e) {
                        failures.incrementAndGet();
                        System.err.println("node " + name + " failed: " + e);
                    }
                }
                return null;
            }));
        }
        assertTrue(enough.await(120, TimeUnit.SECONDS), "60 nodes acknowledged");
        long killedAt = System.nanoTime();
        victim.kill();
        for (Future<?> f : done) {
            f.get(180, TimeUnit.SECONDS);
        }
        pool.shutdown();
        // A change made after the kill reaches every watcher, the ones that were on the dead replica included.
        ClusterClient late = node(live.get(0).target(), token, "late");
        retrying(() -> late.blocking().allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName("late").build()));
        long registeredAt = System.nanoTime();
        retrying(() -> late.blocking().registerPeer(RegisterPeerRequest.newBuilder().setNodeName("late")
                .setPublicKey(key(9999)).setEndpoint("192.0.2.9:51820").build()));
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (watchers.stream().anyMatch(w -> !w.peers.containsKey("late")) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        System.out.printf("storm: %d nodes acknowledged, %d failed; %d of %d watchers were on the killed replica%n",
                acknowledged.size(), failures.get(), onVictim.size(), watchers.size());
        assertEquals(0, failures.get(), "every node got through, on the replicas left");
        assertEquals(workers * perWorker, acknowledged.size());
        for (Watcher w : onVictim) {
            assertTrue(w.streams.get() > 1, "a watcher of the killed replica never opened another stream");
            assertTrue(w.replicaPort != victim.port, "a watcher of the killed replica is still on it");
        }
        long slowest = 0;
        for (Watcher w : watchers) {
            Long seen = w.seenAt.get("late@" + key(9999));
            assertTrue(seen != null, "a watcher never saw the change made after the kill");
            assertTrue(seen - registeredAt < Duration.ofSeconds(1).toNanos(), "the change after the kill came late");
            if (w.streams.get() > 1) {
                // The storm went on after the kill: a moved watcher's new stream has the changes it missed at once.
                assertTrue(w.resumedAt != 0, "a watcher of the killed replica never resumed");
                slowest = Math.max(slowest, w.resumedAt - killedAt);
            }
        }
        System.out.printf("watchers of the killed replica resumed on another within %d ms%n", slowest / 1_000_000);
        assertTrue(slowest < Duration.ofSeconds(5).toNanos(), "resumed " + slowest / 1_000_000 + " ms after the kill");
        // Every acknowledged allocation is there, once, and the same from every live replica.
        ClusterClient admin = admin(live.get(1).target());
        List<Peer> listed = admin.blocking().listPeers(ListPeersRequest.getDefaultInstance()).getPeersList();
        Set<String> subnets = new HashSet<>();
        for (Peer p : listed) {
            assertTrue(subnets.add(p.getSubnet().getIpv4()), "subnet handed out twice: " + p.getSubnet().getIpv4());
        }
        for (var e : acknowledged.entrySet()) {
            Peer p = listed.stream().filter(x -> x.getNodeName().equals(e.getKey())).findFirst().orElseThrow(
                    () -> new AssertionError("acknowledged node " + e.getKey() + " is missing"));
            assertEquals(e.getValue(), p.getSubnet().getIpv4());
        }
        // And every watcher, whichever replica it ended on, holds exactly the registry.
        Map<String, String> registry = new java.util.TreeMap<>();
        listed.forEach(p -> registry.put(p.getNodeName(), p.getPublicKey() + " " + p.getSubnet().getIpv4()));
        for (Watcher w : watchers) {
            Map<String, String> view = new java.util.TreeMap<>();
            w.peers.values().forEach(p -> view.put(p.getNodeName(), p.getPublicKey() + " " + p.getSubnet().getIpv4()));
            assertEquals(registry, view);
            w.close();
        }
    }

    ClusterClient admin(String target) throws Exception {
        ClusterClient c = ClusterClient.connect(target,
                ClusterDaemon.writeAdminCredentials(dir.resolve("cm2"), dir.resolve("admin")));
        clients.add(c);
        return c;
    }

    @Test
    void aKeyRegisteredThroughOneReplicaReachesWatchersOfAnotherWithinASecond() throws Exception {
        JoinToken token = token();
        List<Watcher> watchers = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            watchers.add(new Watcher(node(replicas.get(1).target(), token, "w" + i)));
        }
        ClusterClient writer = node(replicas.get(0).target(), token, "writer");
        writer.blocking().allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName("writer").build());
        long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (watchers.stream().anyMatch(w -> w.streams.get() == 0 || w.revision.get() == 0)
                && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        List<Long> latencies = new ArrayList<>();
        // As many key changes as one node may make at once (RateLimit): each reaches all 100 watchers.
        for (int r = 0; r < RateLimit.REGISTRATION_BURST; r++) {
            String key = key(20_000 + r);
            long t0 = System.nanoTime();
            writer.blocking().registerPeer(RegisterPeerRequest.newBuilder().setNodeName("writer").setPublicKey(key)
                    .setEndpoint("192.0.2.7:51820").build());
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (watchers.stream().anyMatch(w -> !w.seenAt.containsKey("writer@" + key))
                    && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            for (Watcher w : watchers) {
                Long seen = w.seenAt.get("writer@" + key);
                assertTrue(seen != null, "a watcher on replica B never got the key registered on A");
                latencies.add(seen - t0);
            }
        }
        latencies.sort(null);
        long p50 = latencies.get(latencies.size() / 2) / 1_000;
        long p99 = latencies.get((int) (latencies.size() * 0.99)) / 1_000;
        System.out.printf("replica A -> 100 watchers on replica B: p50 %.1f ms, p99 %.1f ms (%d deliveries)%n",
                p50 / 1000.0, p99 / 1000.0, latencies.size());
        assertTrue(p99 <= 1_000_000, "p99 " + p99 + " us");
        watchers.forEach(Watcher::close);
    }

    @Test
    void aReplicaWithAnotherClustersCaIsRefused() throws Exception {
        Path data = Files.createDirectories(dir.resolve("stranger"));
        ServerProcess.Result r =
                ServerProcess.run("token", "list", "--data-dir", data.toString(), "--store", etcd.url("/ha/"));
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("holds no CA: copy ca.crt and ca.key"), r.err());
        assertTrue(!Files.exists(data.resolve("ca.key")), "no CA of its own was made");
        // With a CA of its own, it is another cluster's replica: refused, and the store keeps its marker.
        ServerProcess.Result own = ServerProcess.run("token", "list", "--data-dir", data.toString());
        assertEquals(0, own.exit(), own.err());
        r = ServerProcess.run("token", "list", "--data-dir", data.toString(), "--store", etcd.url("/ha/"));
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("belongs to another cluster"), r.err());
    }
}
