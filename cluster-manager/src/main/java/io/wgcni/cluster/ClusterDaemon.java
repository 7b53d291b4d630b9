package io.wgcni.cluster;

import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.TlsServerCredentials;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.v1.ClusterGrpc;
import io.wgcni.cluster.auth.AuthInterceptor;
import io.wgcni.cluster.auth.Pki;
import io.wgcni.cluster.auth.Tokens;
import io.wgcni.cluster.ipam.Ipam;
import io.wgcni.cluster.ipam.IpamSettings;
import io.wgcni.cluster.store.EtcdStore;
import io.wgcni.cluster.store.Layout;
import io.wgcni.cluster.store.SqliteStore;
import io.wgcni.cluster.store.Store;
import io.wgcni.cluster.store.StoreException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A running cluster-manager: store, CA, IPAM, watch hub, the TLS gRPC server and the metrics endpoint. */
public final class ClusterDaemon implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ClusterDaemon.class);
    public static final String STORE_FILE = "store.db";

    /**
     * How to run. Null IPAM fields mean "as stored, or the default on first start". metricsListen null: no
     * metrics endpoint. maxBatch: the store's group-commit limit. watchQueueLimit: how far a watcher may fall
     * behind before its stream is closed. etcd: the shared store, or null for the embedded one in dataDir.
     */
    public record Options(Path dataDir, String listen, String metricsListen, String clusterCidr,
            Integer nodePrefixLength, String clusterCidrV6, Integer nodePrefixLengthV6, List<String> serverNames,
            int maxBatch, int watchQueueLimit, EtcdStore.Config etcd) {
        public static Options defaults(Path dataDir) {
            return new Options(dataDir, "127.0.0.1:0", null, null, null, null, null, List.of(), 256,
                    WatchHub.QUEUE_LIMIT, null);
        }

        public Options withListen(String listen, String metricsListen) {
            return new Options(dataDir, listen, metricsListen, clusterCidr, nodePrefixLength, clusterCidrV6,
                    nodePrefixLengthV6, serverNames, maxBatch, watchQueueLimit, etcd);
        }

        public Options withCidr(String v4, Integer v4Length, String v6, Integer v6Length) {
            return new Options(dataDir, listen, metricsListen, v4, v4Length, v6, v6Length, serverNames, maxBatch,
                    watchQueueLimit, etcd);
        }

        public Options withLimits(int maxBatch, int watchQueueLimit) {
            return new Options(dataDir, listen, metricsListen, clusterCidr, nodePrefixLength, clusterCidrV6,
                    nodePrefixLengthV6, serverNames, maxBatch, watchQueueLimit, etcd);
        }

        public Options withEtcd(EtcdStore.Config etcd) {
            return new Options(dataDir, listen, metricsListen, clusterCidr, nodePrefixLength, clusterCidrV6,
                    nodePrefixLengthV6, serverNames, maxBatch, watchQueueLimit, etcd);
        }
    }

    private final Store store;
    private final Pki pki;
    private final Ipam ipam;
    private final WatchHub hub;
    private final HealthStatusManager health = new HealthStatusManager();
    private final ExecutorService replies =
            Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("reply-", 0).factory());
    private final Server server;
    private final HTTPServer metricsServer;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ClusterDaemon(Options o) throws IOException {
        HostPort listen = HostPort.parse("--listen", o.listen(), true);
        HostPort metricsListen =
                o.metricsListen() == null ? null : HostPort.parse("--metrics-listen", o.metricsListen(), true);
        store = openStore(o.dataDir(), o.etcd(), o.maxBatch());
        try {
            pki = loadPki(o.dataDir(), store, o.etcd());
            if (store instanceof EtcdStore etcd) {
                etcd.start(replicaName(), "listen=" + o.listen());
            }
            Pki.ServerIdentity identity = pki.issueServer(o.dataDir(), o.serverNames());
            IpamSettings settings = Ipam.settle(store, o.clusterCidr(), o.nodePrefixLength(), o.clusterCidrV6(),
                    o.nodePrefixLengthV6());
            ipam = new Ipam(store, settings);
            hub = new WatchHub(store, replies, o.watchQueueLimit());
            Metrics metrics = new Metrics();
            metrics.watch(hub, ipam);
            ClusterService service = new ClusterService(store, ipam, pki, new Tokens(store, Clock.systemUTC()), hub,
                    metrics, replies);
            server = NettyServerBuilder.forAddress(new InetSocketAddress(listen.host(), listen.port()), tls(identity))
                    .addService(ServerInterceptors.intercept(service, new AuthInterceptor(pki.ca(), store),
                            metrics.interceptor()))
                    .addService(health.getHealthService())
                    .permitKeepAliveTime(10, TimeUnit.SECONDS)
                    .permitKeepAliveWithoutCalls(true)
                    .build()
                    .start();
            metricsServer = metricsListen == null ? null : HTTPServer.builder().hostname(metricsListen.host())
                    .port(metricsListen.port()).registry(metrics.registry).buildAndStart();
        } catch (IOException | RuntimeException e) {
            store.close();
            replies.shutdownNow();
            throw e;
        }
        if (store instanceof EtcdStore etcd) {
            try {
                etcd.announce("listen=" + new HostPort(address().getAddress().getHostAddress(), address().getPort()));
            } catch (StoreException e) {
                log.warn("could not record this replica's address in etcd: {}", e.getMessage());
            }
        }
        health.setStatus("", ServingStatus.SERVING);
        health.setStatus(ClusterGrpc.SERVICE_NAME, ServingStatus.SERVING);
        log.info("cluster-manager started data-dir={} cidr={} capacity={} allocated={} revision={}{}", o.dataDir(),
                ipam.settings().v4(), ipam.capacity(), ipam.allocatedCount(), store.revision(),
                metricsServer == null ? "" : " metrics=" + metricsListen.host() + ":" + metricsServer.getPort());
    }

    public static ClusterDaemon start(Options options) throws IOException {
        return new ClusterDaemon(options);
    }

    /** The gRPC address the server is bound to. */
    public InetSocketAddress address() {
        return (InetSocketAddress) server.getListenSockets().getFirst();
    }

    /** The metrics HTTP port, or -1 when metrics are off. */
    public int metricsPort() {
        return metricsServer == null ? -1 : metricsServer.getPort();
    }

    /** Open WatchPeers streams. */
    public int watchers() {
        return hub.size();
    }

    public Pki pki() {
        return pki;
    }

    public Store store() {
        return store;
    }

    /**
     * Stops gracefully: reports NOT_SERVING, stops accepting calls, ends watch streams, lets the calls in
     * flight finish (5 s at most), then closes the store (whose queued writes complete first).
     */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        health.enterTerminalState();
        server.shutdown();
        hub.close();
        try {
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                log.warn("calls still running after 5 s: cancelling them");
                server.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (metricsServer != null) {
            metricsServer.close();
        }
        store.close();
        replies.shutdown();
        log.info("cluster-manager stopped");
    }

    /**
     * The embedded store in dataDir (etcd null), or the etcd one (waiting up to a minute for an endpoint to
     * answer, saying which do not). The caller must check it with {@link #loadPki} before writing to it.
     */
    public static Store openStore(Path dataDir, EtcdStore.Config etcd, int maxBatch) throws IOException {
        prepare(dataDir);
        if (etcd == null) {
            return new SqliteStore(dataDir.resolve(STORE_FILE), maxBatch);
        }
        return EtcdStore.open(etcd, Duration.ofMinutes(1));
    }

    /**
     * The CA in dataDir, checked against the store's cluster marker (written on the first start). A shared store
     * that belongs to a cluster already needs that cluster's CA: a replica never makes one of its own then.
     */
    public static Pki loadPki(Path dataDir, Store store, EtcdStore.Config etcd) throws IOException {
        String where = etcd == null ? dataDir.resolve(STORE_FILE).toString() : etcd.describe();
        if (etcd != null && !Pki.exists(dataDir) && Layout.caOf(store).isPresent()) {
            throw new IOException(where + " belongs to a cluster (CA key sha256:" + Layout.caOf(store).get() + ") and "
                    + dataDir + " holds no CA: copy ca.crt and ca.key (mode 0600) from another replica's data"
                    + " directory");
        }
        Pki pki = Pki.loadOrCreate(dataDir);
        Layout.claim(store, pki.caKeyHash(), where, etcd == null);
        return pki;
    }

    /** This replica's name among the others on the same etcd: host and process. */
    static String replicaName() {
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "localhost";
        }
        return host + "-" + ProcessHandle.current().pid() + "-" + Long.toHexString(System.nanoTime() & 0xffffff);
    }

    /** Creates the data directory (mode 0700) if needed. */
    static Path prepare(Path dataDir) throws IOException {
        if (!Files.isDirectory(dataDir)) {
            Files.createDirectories(dataDir);
            Files.setPosixFilePermissions(dataDir, PosixFilePermissions.fromString("rwx------"));
        }
        return dataDir;
    }

    /** Writes an admin identity (CN=admin) into out, in a node's file layout. */
    public static Credentials writeAdminCredentials(Path dataDir, Path out) throws IOException {
        Pki pki = Pki.loadOrCreate(prepare(dataDir));
        KeyPair pair = Pki.newKeyPair();
        return Credentials.save(out, pair.getPrivate(), pki.issueAdmin(pair.getPublic()), pki.ca());
    }

    /**
     * TLS with an optional client certificate: Join comes without one. The TLS layer checks that a client holds
     * the key of the certificate it shows; {@link AuthInterceptor} decides per call whether the certificate is
     * good, so that a bad one is a clear UNAUTHENTICATED instead of a failed handshake.
     */
    private io.grpc.ServerCredentials tls(Pki.ServerIdentity identity) throws IOException {
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("server", identity.key(), new char[0],
                    new X509Certificate[] {identity.certificate(), pki.ca()});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, new char[0]);
            return TlsServerCredentials.newBuilder()
                    .keyManager(kmf.getKeyManagers())
                    .trustManager(new AnyClientCertificate(pki.ca()))
                    .clientAuth(TlsServerCredentials.ClientAuth.OPTIONAL)
                    .build();
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS: " + e.getMessage(), e);
        }
    }

    /** Lets any client certificate through the handshake (see {@link #tls}); asks for ones the CA issued. */
    private static final class AnyClientCertificate extends X509ExtendedTrustManager {
        private final X509Certificate ca;

        AnyClientCertificate(X509Certificate ca) {
            this.ca = ca;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
            throw new UnsupportedOperationException("server side only");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
            throw new UnsupportedOperationException("server side only");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
            throw new UnsupportedOperationException("server side only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[] {ca};
        }
    }
}
