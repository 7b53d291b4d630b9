package io.wgcni.node;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.JoinToken;
import io.wgcni.api.cluster.v1.AllocateSubnetRequest;
import io.wgcni.api.cluster.v1.AllocateSubnetResponse;
import io.wgcni.api.cluster.v1.Peer;
import io.wgcni.api.cluster.v1.RegisterPeerRequest;
import io.wgcni.node.attach.Attachments;
import io.wgcni.node.attach.NodeNetwork;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.InetAddresses;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node-manager run: joins the cluster, brings up wg0, makes the host a router for its containers, loads and
 * reconciles the attachments, registers the node and follows the other nodes, serves the node API; then, on
 * SIGTERM or SIGINT, undoes it all in reverse order.
 */
final class NodeDaemon {
    private static final Logger log = LoggerFactory.getLogger(NodeDaemon.class);
    static final String CREDENTIALS_DIR = "credentials";
    static final String ATTACHMENTS_DIR = "attachments";
    static final String PEERS_FILE = "peers";
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(15);
    static final Duration SWEEP_INTERVAL = Duration.ofSeconds(60);

    private final NodeConfig config;
    /** What this run made, undone newest first. */
    private final Deque<AutoCloseable> made = new ArrayDeque<>();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final AtomicBoolean stopping = new AtomicBoolean();
    private volatile boolean started;
    // What a key rotation changes, once start has made them.
    private NodeInterface wg0;
    private Attachments attachments;
    private ClusterClient cluster;
    /** What this node registers; {@link #onSelf} holds the registry to it. */
    private volatile RegisterPeerRequest registration;

    NodeDaemon(NodeConfig config) {
        this.config = config;
    }

    /**
     * Runs until a signal. Returns the exit code, or -1 when a signal stopped it (the JVM is then already
     * shutting down and must not be asked to exit again).
     */
    int run() {
        CountDownLatch cleaned = new CountDownLatch(1);
        AtomicBoolean signalled = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            signalled.set(true);
            stopping.set(true);
            stop.countDown();
            try {
                cleaned.await(30, TimeUnit.SECONDS); // let the main thread undo what it made
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "node-manager-shutdown"));
        int code = 0;
        try {
            start();
            System.err.println("node-manager ready");
            stop.await();
            log.info("Shutting down");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            if (!stopping.get()) {
                if (e instanceof IOException || e instanceof IllegalArgumentException) {
                    log.error("node-manager failed to start: {}", e.getMessage()); // says what to do
                } else {
                    log.error("node-manager failed to start", e);
                }
                code = 1;
            }
        } finally {
            undo();
            cleaned.countDown();
        }
        return signalled.get() ? -1 : code;
    }

    private void start() throws Exception {
        Metrics metrics = keep(new Metrics());
        NodeApi api = new NodeApi(metrics);
        metrics.bind(api);
        made.push(api::stopping);
        Path dataDir = config.dataDir();
        Files.createDirectories(dataDir, PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Key privateKey = NodeKey.readOrCreate(dataDir);
        Key publicKey = X25519.publicKey(privateKey);

        // A restart brings the data path back from the stored lease first; only a first run must wait for the
        // cluster-manager before it has anything to run.
        Lease lease = Lease.load(dataDir);
        ClusterClient cluster = null;
        if (lease == null) {
            api.phase("joining the cluster");
            cluster = keep(connect(dataDir));
            lease = allocate(cluster);
        }

        api.phase("creating " + config.interfaceName());
        Underlay underlay;
        Endpoint endpoint;
        if (config.endpoint() != null) {
            endpoint = Endpoint.parse(config.endpoint());
            underlay = Underlay.forEndpoint(endpoint.address());
        } else {
            underlay = Underlay.ofDefaultRoute();
            endpoint = new Endpoint(underlay.address(), config.listenPort());
        }
        int mtu = config.mtu() > 0 ? config.mtu() : underlay.mtu() - NodeConfig.WIREGUARD_OVERHEAD;
        NodeInterface wg0 = this.wg0 = keep(NodeInterface.create(config.interfaceName(), privateKey,
                config.listenPort(), mtu, lease.subnetV4(), lease.subnetV6(), config.dataPath()));
        privateKey.destroy();
        log.info("{}: {} listening on {}, MTU {} (underlay {} MTU {}), endpoint {}", wg0.name(),
                publicKey.shortForm(), wg0.listenPort(), mtu, underlay.device(), underlay.mtu(), endpoint);
        keep(Hosting.install(wg0.name(), lease.cluster()));
        for (Prefix prefix : lease.cluster()) {
            // Until every node's route is in, traffic to the cluster must not leak out of the default route.
            wg0.addRoute(prefix);
        }

        api.phase("loading the attachments");
        // A container's packets cross the node's hop inside wg0's tunnel: the same MTU never fragments there.
        NodeNetwork network = new NodeNetwork(lease.subnetV4(), lease.subnetV6(), wg0.gatewayV4(), wg0.gatewayV6(),
                mtu);
        Path attachmentsDir = Files.createDirectories(dataDir.resolve(ATTACHMENTS_DIR),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Attachments attachments = this.attachments = new Attachments(attachmentsDir, network, wg0.device());
        // A start that fails later (the cluster refusing this node, say) leaves the containers as a crash would.
        made.push(() -> attachments.close(started && !config.keepTunnelsOnExit()));
        attachments.reconcile();
        // A DEL that never reached this node-manager leaves the tunnel, its wg0 peer and the address: released
        // within a minute of the namespace going, not only at the next start.
        var sweeper = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                Thread.ofVirtual().name("attachment-sweep").factory()); // a platform thread would idle for a minute
        sweeper.scheduleWithFixedDelay(() -> {
            try {
                attachments.sweep();
            } catch (RuntimeException e) {
                log.error("attachment sweep failed: {}", e.toString());
            }
        }, SWEEP_INTERVAL.toSeconds(), SWEEP_INTERVAL.toSeconds(), TimeUnit.SECONDS);
        made.push(sweeper::shutdownNow);
        Clients clients = Clients.load(dataDir, wg0.device());
        PeerSync peers = keep(new PeerSync(config.nodeName(), dataDir.resolve(PEERS_FILE), wg0.device(),
                new PeerSync.Routes() {
                    @Override
                    public void add(Prefix prefix) throws IOException {
                        wg0.addRoute(prefix);
                    }

                    @Override
                    public void delete(Prefix prefix) {
                        wg0.deleteRoute(prefix);
                    }
                }, lease.subnets()));
        peers.restore();

        GrpcServer grpc = keep(GrpcServer.start(config.socket(), api));
        keep(CniServer.start(config.cniSocket(), api));
        if (config.metrics() != null) {
            metrics.serve(config.metrics());
            log.info("Metrics on http://{}:{}/metrics", InetAddresses.format(config.metrics().getAddress()),
                    metrics.port());
        }

        if (cluster == null) {
            api.phase("connecting to the cluster");
            cluster = keep(connect(dataDir));
            Lease current = allocate(cluster);
            if (!current.subnets().equals(lease.subnets())) {
                throw new IOException("the cluster now gives this node " + current.subnets() + ", not "
                        + lease.subnets() + " as before (was it removed and joined again?): stop it, delete "
                        + dataDir.resolve(Lease.FILE) + " and start it again");
            }
        }
        api.phase("registering with the cluster");
        List<String> prefixes = lease.subnets().stream().map(Prefix::toString).toList();
        registration = RegisterPeerRequest.newBuilder().setNodeName(config.nodeName())
                .setPublicKey(publicKey.toBase64()).setEndpoint(endpoint.toString()).addAllAllowedPrefixes(prefixes)
                .build();
        ClusterClient client = this.cluster = cluster;
        retry("register the node", () -> client.blocking().withDeadlineAfter(CALL_TIMEOUT)
                .registerPeer(registration));
        peers.start(client::blocking, self -> onSelf(client, self));

        api.ready(new NodeApi.Ready(config.nodeName(), lease.subnetV4(), lease.subnetV6(), lease.cluster(),
                endpoint.toString(), wg0, attachments, peers, clients, this::rotateKey));
        grpc.serving(true);
        made.push(() -> grpc.serving(false));
        started = true;
        log.info("Node {} ready: {} attachment(s), API on {}, CNI on {}", config.nodeName(), attachments.count(),
                config.socket(), config.cniSocket());
    }

    /** Asks for the node's subnet (the same one every time) and keeps it as the lease. */
    private Lease allocate(ClusterClient cluster) throws Exception {
        AllocateSubnetResponse allocation = retry("allocate the subnet", () -> cluster.blocking()
                .withDeadlineAfter(CALL_TIMEOUT)
                .allocateSubnet(AllocateSubnetRequest.newBuilder().setNodeName(config.nodeName()).build()));
        List<Prefix> clusterPrefixes = new ArrayList<>();
        clusterPrefixes.add(Prefix.parse(allocation.getCluster().getIpv4()));
        if (!allocation.getCluster().getIpv6().isEmpty()) {
            clusterPrefixes.add(Prefix.parse(allocation.getCluster().getIpv6()));
        }
        Lease lease = new Lease(Prefix.parse(allocation.getSubnet().getIpv4()),
                allocation.getSubnet().getIpv6().isEmpty() ? null : Prefix.parse(allocation.getSubnet().getIpv6()),
                List.copyOf(clusterPrefixes));
        lease.save(config.dataDir());
        log.info("Node {}: subnet {}, cluster {}", config.nodeName(), lease.subnets(), lease.cluster());
        return lease;
    }

    /** The registry's entry for this node changed: register again when it no longer says what it should. */
    private void onSelf(ClusterClient cluster, Peer self) {
        RegisterPeerRequest registration = this.registration;
        if (self == null) {
            log.warn("Node {} is not (or no longer) in the cluster's registry", config.nodeName());
            return;
        }
        boolean same = self.getPublicKey().equals(registration.getPublicKey())
                && self.getEndpoint().equals(registration.getEndpoint())
                && (self.getAllowedPrefixesList().isEmpty()
                        || self.getAllowedPrefixesList().equals(registration.getAllowedPrefixesList()));
        if (!same && !stopping.get()) {
            Thread.ofVirtual().start(() -> {
                try {
                    cluster.blocking().withDeadlineAfter(CALL_TIMEOUT).registerPeer(registration);
                    log.info("Registered node {} again: the registry held another key or endpoint", config.nodeName());
                } catch (StatusRuntimeException e) {
                    log.warn("Could not register node {} again: {}: {}", config.nodeName(), e.getStatus().getCode(),
                            e.getStatus().getDescription());
                }
            });
        }
    }

    /**
     * Gives the node a new WireGuard key without taking its tunnels down, and returns the old and new public keys.
     *
     * <p>The peer of every pair is the initiator of the new handshake, so no initiations cross (two that cross leave
     * both sides waiting out REKEY_TIMEOUT). The new key is stored (0600, synced) and wg0 takes it, which expires
     * its sessions and holds back its own initiations ({@code Device#rotatePrivateKey}); the containers' devices
     * follow at once and start their handshakes. Only then does the registry record it. Each other node, seeing
     * the new key in the watch, swaps its peer and, through the peer's persistent keepalive, starts the handshake
     * at once with a wg0 that already has the key. Until then their packets to this node still open here under
     * the sessions just expired for sending. A crash at any point restarts with the stored key, which the start
     * registers.
     *
     * <p>When the registry cannot record it, the old key is stored and used again, and the cluster-manager's
     * failure is thrown: nothing changed. External clients (wg-quick) hold the node's public key in their
     * configuration and must be given the new one.
     */
    synchronized Attachments.KeyChange rotateKey() throws IOException {
        Key previous = Key.of(wg0.device().identity().privateKey().bytes());
        Key next = X25519.generatePrivateKey();
        var change = new Attachments.KeyChange(X25519.publicKey(previous), X25519.publicKey(next));
        RegisterPeerRequest before = registration;
        RegisterPeerRequest after = before.toBuilder().setPublicKey(change.next().toBase64()).build();
        long start = System.nanoTime();
        try {
            NodeKey.write(config.dataDir(), next);
            use(next, true);
            registration = after;
            try {
                cluster.blocking().withDeadlineAfter(CALL_TIMEOUT).registerPeer(after);
            } catch (StatusRuntimeException e) {
                registration = before;
                NodeKey.write(config.dataDir(), previous);
                use(previous, false);
                log.warn("Node key not rotated: the cluster-manager did not record it ({}: {})",
                        e.getStatus().getCode(), e.getStatus().getDescription());
                throw e;
            }
        } finally {
            previous.destroy();
            next.destroy();
        }
        log.info("Node {}: new key {} (was {}), registered in {} ms", config.nodeName(), change.next().shortForm(),
                change.previous().shortForm(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        return change;
    }

    /**
     * wg0 takes the key (it keeps a copy) and every container's device follows. A new key ({@code rotated}) leaves
     * the handshakes to the peers, who learn it (the containers at once, the nodes from the registry); the old one
     * taken back after a failed registration is one they still have, so wg0 starts them itself.
     */
    private void use(Key privateKey, boolean rotated) {
        if (rotated) {
            wg0.device().rotatePrivateKey(privateKey);
        } else {
            wg0.device().setPrivateKey(privateKey);
        }
        attachments.hubKeyChanged();
    }

    /** Connects with the stored client certificate, joining first with the join token when there is none. */
    private ClusterClient connect(Path dataDir) throws Exception {
        Path dir = dataDir.resolve(CREDENTIALS_DIR);
        Credentials credentials;
        if (Credentials.exist(dir)) {
            credentials = Credentials.load(dir);
        } else {
            if (config.joinToken() == null) {
                throw new IllegalArgumentException("this node has not joined yet (no " + dir + "): pass --join-token"
                        + " or --join-token-file");
            }
            JoinToken token = JoinToken.parse(config.joinToken());
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rwx------")));
            credentials = retry("join the cluster", () -> ClusterClient.join(config.cluster(), token,
                    config.nodeName(), dir));
            log.info("Joined the cluster at {} as {}", config.cluster(), config.nodeName());
        }
        return ClusterClient.connect(config.cluster(), credentials);
    }

    @FunctionalInterface
    private interface Call<T> {
        T call() throws Exception;
    }

    /**
     * Retries a call while the cluster-manager is unreachable or asks us to come back later (RESOURCE_EXHAUSTED: its
     * per-node registration limit, which a node restarting in a loop reaches); any other failure is final.
     */
    private <T> T retry(String what, Call<T> call) throws Exception {
        Duration backoff = Duration.ofMillis(250);
        while (true) {
            try {
                return call.call();
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                if (code != Status.Code.UNAVAILABLE && code != Status.Code.DEADLINE_EXCEEDED
                        && code != Status.Code.RESOURCE_EXHAUSTED) {
                    throw new IOException("could not " + what + ": " + code + ": " + e.getStatus().getDescription(), e);
                }
                log.warn("Could not {} ({}: {}): retrying in {} ms", what, code, e.getStatus().getDescription(),
                        backoff.toMillis());
            }
            if (stop.await(backoff.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new InterruptedException("stopped while trying to " + what);
            }
            backoff = backoff.multipliedBy(2).compareTo(Duration.ofSeconds(5)) > 0 ? Duration.ofSeconds(5)
                    : backoff.multipliedBy(2);
        }
    }

    private <T extends AutoCloseable> T keep(T resource) {
        made.push(resource);
        return resource;
    }

    private void undo() {
        while (!made.isEmpty()) {
            AutoCloseable r = made.pop();
            try {
                r.close();
            } catch (Exception e) {
                log.warn("Cleaning up {} failed: {}", r.getClass().getSimpleName(), e.getMessage());
            }
        }
    }
}
