package io.wgcni.cluster.bench;

import io.grpc.stub.StreamObserver;
import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.v1.AllocateSubnetRequest;
import io.wgcni.api.cluster.v1.RegisterPeerRequest;
import io.wgcni.api.cluster.v1.WatchPeersRequest;
import io.wgcni.api.cluster.v1.WatchPeersResponse;
import io.wgcni.cluster.ClusterDaemon;
import io.wgcni.cluster.store.EtcdCluster;
import io.wgcni.cluster.store.EtcdStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * The control-plane benchmark, against a real cluster-manager over TLS on loopback (server and clients share this
 * JVM and the machine's cores):
 * <ul>
 *   <li>durable allocations per second with N concurrent clients, each on its own connection, without group
 *       commit (one fsync per allocation) and with it;
 *   <li>how long a registration takes to reach W WatchPeers watchers, each on its own connection: from the
 *       RegisterPeer call to the PUT arriving at each watcher, p50 and p99 over every (registration, watcher).
 * </ul>
 * Run: {@code java
 * -cp cluster-manager/target/test-classes:cluster-manager/target/cluster-manager.jar:'cluster-manager/target/lib/*'
 * -Dorg.slf4j.simpleLogger.defaultLogLevel=warn
 * io.wgcni.cluster.bench.ControlPlaneBench [clients] [allocations] [watchers...]}
 * It runs everything on the embedded SQLite store, then again on a 3-member etcd that it starts on loopback
 * (Debian's etcd-server; its members' data in a temporary directory), with the cluster-manager as its client.
 */
public final class ControlPlaneBench {
    /** Registrations carry ports from here up: a node may not register a well-known port. */
    private static final int FIRST_PORT = 10_000;
    /** The etcd every Server of the current run uses (a fresh prefix each), or null for SQLite. */
    static volatile String etcdUrl;

    public static void main(String[] args) throws Exception {
        int clients = args.length > 0 ? Integer.parseInt(args[0]) : 32;
        int allocations = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
        int[] watchers = args.length > 2 ? Arrays.stream(args, 2, args.length).mapToInt(Integer::parseInt).toArray()
                : new int[] {100, 1000};
        // A short warm-up of both paths, so that the JIT does not count against the first figure.
        allocationsPerSecond(256, clients, 500);
        for (int maxBatch : new int[] {1, 256}) {
            double rate = allocationsPerSecond(maxBatch, clients, allocations);
            System.out.printf("sqlite allocations: group commit %s (max batch %d), %d clients:"
                    + " %.0f durable allocations/s%n", maxBatch == 1 ? "off" : "on", maxBatch, clients, rate);
        }
        fanOuts("sqlite", watchers);
        Path etcdDir = Files.createTempDirectory("cm-bench-etcd");
        try (EtcdCluster etcd = EtcdCluster.start(etcdDir, 3)) {
            etcdUrl = etcd.url("");
            allocationsPerSecond(256, clients, 500);
            double rate = allocationsPerSecond(256, clients, allocations);
            System.out.printf("etcd allocations (3 members on loopback), %d clients: %.0f durable allocations/s%n",
                    clients, rate);
            fanOuts("etcd", watchers);
        } finally {
            etcdUrl = null;
            deleteTree(etcdDir);
        }
        System.exit(0);
    }

    private static void fanOuts(String store, int[] watchers) throws Exception {
        for (int w : watchers) {
            long[] p = fanOut(w, 30);
            System.out.printf("%s fan-out: a registration reaches %d watchers: p50 %.1f ms, p99 %.1f ms"
                    + " (all watchers: p50 %.1f ms, p99 %.1f ms)%n",
                    store, w, p[0] / 1e6, p[1] / 1e6, p[2] / 1e6, p[3] / 1e6);
        }
    }

    /**
     * Allocates subnets for `allocations` distinct nodes from `clients` threads; returns acknowledged allocations/s.
     */
    public static double allocationsPerSecond(int maxBatch, int clients, int allocations) throws Exception {
        try (Server s = new Server(o -> o.withCidr("10.0.0.0/8", 24, null, null).withLimits(maxBatch, 4096))) {
            List<ClusterClient> cs = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                cs.add(ClusterClient.connect(s.target(), s.admin));
            }
            AtomicInteger next = new AtomicInteger();
            CountDownLatch done = new CountDownLatch(clients);
            long start = System.nanoTime();
            for (ClusterClient c : cs) {
                Thread.ofPlatform().start(() -> {
                    for (int i; (i = next.getAndIncrement()) < allocations; ) {
                        c.blocking().allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName("n" + i).build());
                    }
                    done.countDown();
                });
            }
            done.await();
            double seconds = (System.nanoTime() - start) / 1e9;
            cs.forEach(ClusterClient::close);
            return allocations / seconds;
        }
    }

    /**
     * Opens `watchers` WatchPeers streams, then performs `registrations` registrations one after the other, each
     * once every watcher has the previous one. Returns {p50, p99} of the per-watcher delivery time and {p50, p99}
     * of the time until the last watcher had it, in nanoseconds.
     */
    public static long[] fanOut(int watchers, int registrations) throws Exception {
        try (Server s = new Server(o -> o)) {
            List<ClusterClient> cs = new ArrayList<>();
            ConcurrentHashMap<String, long[]> arrivals = new ConcurrentHashMap<>();
            AtomicInteger snapshots = new AtomicInteger();
            for (int i = 0; i < registrations; i++) {
                arrivals.put(endpoint(i), new long[watchers]);
            }
            AtomicInteger[] counts = new AtomicInteger[registrations];
            Arrays.setAll(counts, i -> new AtomicInteger());
            for (int w = 0; w < watchers; w++) {
                ClusterClient c = ClusterClient.connect(s.target(), s.admin);
                cs.add(c);
                int me = w;
                c.async().watchPeers(WatchPeersRequest.getDefaultInstance(), new StreamObserver<>() {
                    @Override
                    public void onNext(WatchPeersResponse m) {
                        long now = System.nanoTime();
                        if (m.getKind() == WatchPeersResponse.Kind.SNAPSHOT) {
                            snapshots.incrementAndGet();
                            return;
                        }
                        String ep = m.getPeers(0).getEndpoint();
                        arrivals.get(ep)[me] = now;
                        counts[Integer.parseInt(ep.substring(ep.indexOf(':') + 1)) - FIRST_PORT].incrementAndGet();
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {}
                });
            }
            waitFor(() -> snapshots.get() == watchers, 120, "snapshots");
            ClusterClient node = ClusterClient.connect(s.target(), s.admin);
            node.blocking().allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName("bench").build());
            long[] each = new long[watchers * registrations];
            long[] last = new long[registrations];
            for (int r = 0; r < registrations; r++) {
                long start = System.nanoTime();
                node.blocking().registerPeer(RegisterPeerRequest.newBuilder().setNodeName("bench")
                        .setPublicKey(Base64.getEncoder().encodeToString(new byte[32])).setEndpoint(endpoint(r))
                        .build());
                int reg = r;
                waitFor(() -> counts[reg].get() == watchers, 30, "registration " + r);
                long[] at = arrivals.get(endpoint(r));
                long max = 0;
                for (int w = 0; w < watchers; w++) {
                    each[r * watchers + w] = at[w] - start;
                    max = Math.max(max, at[w] - start);
                }
                last[r] = max;
                Thread.sleep(20);
            }
            node.close();
            cs.forEach(ClusterClient::close);
            Arrays.sort(each);
            Arrays.sort(last);
            return new long[] {pct(each, 50), pct(each, 99), pct(last, 50), pct(last, 99)};
        }
    }

    private static String endpoint(int r) {
        return "192.0.2.1:" + (FIRST_PORT + r);
    }

    private static long pct(long[] sorted, int p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * p / 100.0) - 1)];
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, int seconds, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("timed out waiting for " + what);
            }
            Thread.onSpinWait();
            Thread.sleep(0, 200_000);
        }
    }

    /** A cluster-manager in a temporary directory, with admin credentials. */
    private static final class Server implements AutoCloseable {
        final Path dir;
        final ClusterDaemon manager;
        final Credentials admin;

        Server(java.util.function.UnaryOperator<ClusterDaemon.Options> tweak) throws IOException {
            dir = Files.createTempDirectory("cm-bench");
            String url = etcdUrl;
            ClusterDaemon.Options o = ClusterDaemon.Options.defaults(dir.resolve("data"));
            if (url != null) {
                o = o.withEtcd(EtcdStore.Config.parse(url + "/bench-" + System.nanoTime() + "/"));
            }
            manager = ClusterDaemon.start(tweak.apply(o));
            admin = ClusterDaemon.writeAdminCredentials(dir.resolve("data"), dir.resolve("admin"));
        }

        String target() {
            return "127.0.0.1:" + manager.address().getPort();
        }

        @Override
        public void close() throws IOException {
            manager.close();
            deleteTree(dir);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
