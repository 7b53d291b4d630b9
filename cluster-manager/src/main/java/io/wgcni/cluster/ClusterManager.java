package io.wgcni.cluster;

import io.wgcni.api.Environment;
import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.Credentials;
import io.wgcni.api.cluster.v1.ListPeersRequest;
import io.wgcni.api.cluster.v1.Peer;
import io.wgcni.api.cluster.v1.RemoveNodeRequest;
import io.wgcni.cluster.auth.Pki;
import io.wgcni.cluster.auth.Tokens;
import io.wgcni.cluster.store.EtcdStore;
import io.wgcni.cluster.store.Store;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The cluster-manager command line. Every option can also come from the environment ({@link Environment}). */
@Command(name = "cluster-manager", mixinStandardHelpOptions = true, versionProvider = ClusterManager.Version.class,
        description = "Subnets, WireGuard keys and peers for a wgcni cluster, served over mutual-TLS gRPC.",
        subcommands = {ClusterManager.Serve.class, ClusterManager.Token.class, ClusterManager.AdminCredentials.class,
            ClusterManager.Node.class})
public final class ClusterManager {
    static final String DEFAULT_DATA_DIR = "/var/lib/wgcni/cluster-manager";

    /** The jar's Implementation-Version, as node-manager prints its own. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = ClusterManager.class.getPackage().getImplementationVersion();
            return new String[] {"cluster-manager " + (v == null ? "dev" : v)};
        }
    }

    public static void main(String[] args) {
        System.exit(commandLine(System.getenv()).execute(args));
    }

    static CommandLine commandLine(Map<String, String> env) {
        CommandLine cli = new CommandLine(new ClusterManager());
        cli.setDefaultValueProvider(option -> option instanceof CommandLine.Model.OptionSpec o
                ? Environment.value(env, o.longestName()) : null);
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("cluster-manager: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return 1;
        });
        return cli;
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Run the cluster-manager (foreground; logs to stderr).")
    static final class Serve implements Callable<Integer> {
        @Option(names = "--data-dir", defaultValue = DEFAULT_DATA_DIR,
                description = "State: CA, certificates, store.db (default ${DEFAULT-VALUE}).")
        Path dataDir;
        @Option(names = "--listen", defaultValue = "0.0.0.0:7443",
                description = "gRPC address (default ${DEFAULT-VALUE}).")
        String listen;
        @Option(names = "--metrics-listen", defaultValue = "127.0.0.1:9710",
                description = "Prometheus address, or \"off\" (default ${DEFAULT-VALUE}).")
        String metricsListen;
        @Option(names = "--cluster-cidr",
                description = "IPv4 prefix of the cluster (first start only; default 10.100.0.0/16).")
        String clusterCidr;
        @Option(names = "--cluster-cidr-v6",
                description = "IPv6 prefix of the cluster, empty for none (first start only).")
        String clusterCidrV6;
        @Option(names = "--node-prefix-length",
                description = "Length of each node's IPv4 subnet (first start only; default 24).")
        Integer nodePrefixLength;
        @Option(names = "--node-prefix-length-v6",
                description = "Length of each node's IPv6 subnet (first start only; default 64).")
        Integer nodePrefixLengthV6;
        @Option(names = "--server-name", split = ",",
                description = "Extra DNS names or IPs for the server certificate.")
        List<String> serverNames = List.of();
        @CommandLine.Mixin
        StoreOptions store = new StoreOptions();

        @Override
        public Integer call() throws Exception {
            ClusterDaemon.Options options = new ClusterDaemon.Options(dataDir, listen,
                    metricsListen.equals("off") ? null : metricsListen, clusterCidr, nodePrefixLength, clusterCidrV6,
                    nodePrefixLengthV6, serverNames, 256, WatchHub.QUEUE_LIMIT, store.etcd());
            ClusterDaemon manager = ClusterDaemon.start(options);
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                manager.close();
                stopped.countDown();
            }, "shutdown"));
            System.err.println("cluster-manager listening on "
                    + new HostPort(manager.address().getAddress().getHostAddress(), manager.address().getPort()));
            System.err.flush();
            stopped.await();
            return 0;
        }
    }

    @Command(name = "token", mixinStandardHelpOptions = true, description = "Join tokens (works while serve runs).",
            subcommands = {TokenCreate.class, TokenList.class, TokenDelete.class})
    static final class Token {}

    /** Where the state is: the embedded SQLite file in the data directory, or etcd (shared by replicas). */
    static final class StoreOptions {
        @Option(names = "--store", defaultValue = "sqlite", description = "sqlite (store.db in --data-dir), or"
                + " etcd://HOST:PORT[,HOST:PORT...][/PREFIX/] (etcds:// for TLS; prefix default /wgcni/)"
                + " (default ${DEFAULT-VALUE}).")
        String store;
        @Option(names = "--etcd-ca-file",
                description = "CA certificate (PEM) that signed the etcd servers' certificates (etcds://).")
        Path caFile;
        @Option(names = "--etcd-cert-file", description = "Client certificate (PEM) for etcd, with --etcd-key-file.")
        Path certFile;
        @Option(names = "--etcd-key-file", description = "Client private key (PKCS#8 PEM) for etcd.")
        Path keyFile;
        @Option(names = "--etcd-user", description = "etcd user name (with --etcd-password-file).")
        String user;
        @Option(names = "--etcd-password-file", description = "File whose first line is the etcd user's password.")
        Path passwordFile;

        /** The etcd settings, or null for the embedded store. */
        EtcdStore.Config etcd() throws IOException {
            if (store.equals("sqlite")) {
                if (caFile != null || certFile != null || keyFile != null || user != null || passwordFile != null) {
                    throw new IllegalArgumentException("--etcd-* options need --store etcd://...");
                }
                return null;
            }
            EtcdStore.Config c = EtcdStore.Config.parse(store);
            if ((certFile == null) != (keyFile == null)) {
                throw new IllegalArgumentException("--etcd-cert-file and --etcd-key-file go together");
            }
            if ((user == null) != (passwordFile == null)) {
                throw new IllegalArgumentException("--etcd-user and --etcd-password-file go together");
            }
            if (caFile != null || certFile != null) {
                c = c.withTls(caFile, certFile, keyFile);
            }
            if (user != null) {
                c = c.withAuth(user, EtcdStore.readPassword(passwordFile));
            }
            return c;
        }
    }

    static class DataDir {
        @Option(names = "--data-dir", defaultValue = DEFAULT_DATA_DIR,
                description = "The cluster-manager's data directory (default ${DEFAULT-VALUE}).")
        Path dataDir;
        @CommandLine.Mixin
        StoreOptions storeOptions = new StoreOptions();

        /**
         * The store the server uses, checked against this data directory's CA. An etcd store is not started (no
         * watch, not listed among the replicas): the commands only read and compare-and-set.
         */
        Store openStore() throws IOException {
            EtcdStore.Config etcd = storeOptions.etcd();
            Store store = ClusterDaemon.openStore(dataDir, etcd, 1);
            try {
                ClusterDaemon.loadPki(dataDir, store, etcd);
            } catch (IOException | RuntimeException e) {
                store.close();
                throw e;
            }
            return store;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create a join token; prints <id>.<secret>:sha256:<CA key hash>.")
    static final class TokenCreate extends DataDir implements Callable<Integer> {
        @Option(names = "--ttl", defaultValue = "24h",
                description = "How long the token stays valid: 30m, 24h, 7d (default ${DEFAULT-VALUE}).")
        String ttl;

        @Override
        public Integer call() throws Exception {
            Duration validity = parseDuration(ttl);
            try (Store store = openStore()) {
                Pki pki = Pki.loadOrCreate(dataDir);
                System.out.println(new Tokens(store, Clock.systemUTC()).create(validity, pki.caKeyHash()));
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List join tokens (ids and expiry; secrets are not stored).")
    static final class TokenList extends DataDir implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            try (Store store = openStore()) {
                for (Tokens.Token t : new Tokens(store, Clock.systemUTC()).list()) {
                    System.out.println(t.id() + "\t" + t.expires());
                }
            }
            return 0;
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a join token.")
    static final class TokenDelete extends DataDir implements Callable<Integer> {
        @Parameters(paramLabel = "ID")
        String id;

        @Override
        public Integer call() throws Exception {
            try (Store store = openStore()) {
                if (!new Tokens(store, Clock.systemUTC()).delete(id)) {
                    System.err.println("cluster-manager: no token " + id);
                    return 1;
                }
            }
            return 0;
        }
    }

    @Command(name = "admin-credentials", mixinStandardHelpOptions = true,
            description = "Write an admin client identity (CN=admin) into --out: ca.crt, tls.crt, tls.key.")
    static final class AdminCredentials extends DataDir implements Callable<Integer> {
        @Option(names = "--out", required = true, description = "Directory to write (created mode 0700).")
        Path out;

        @Override
        public Integer call() throws Exception {
            ClusterDaemon.writeAdminCredentials(dataDir, out);
            System.err.println("admin credentials written to " + out);
            return 0;
        }
    }

    @Command(name = "node", mixinStandardHelpOptions = true, description = "Nodes, over gRPC with admin credentials.",
            subcommands = {NodeList.class, NodeRemove.class})
    static final class Node {}

    static class Remote {
        @Option(names = "--target", defaultValue = "127.0.0.1:7443",
                description = "host:port of the cluster-manager (default ${DEFAULT-VALUE}).")
        String target;
        @Option(names = "--credentials", required = true, description = "Directory written by admin-credentials.")
        Path credentials;

        ClusterClient connect() throws IOException {
            if (!Credentials.exist(credentials)) {
                throw new IOException(
                        credentials + " holds no ca.crt, tls.crt and tls.key: run admin-credentials first");
            }
            return ClusterClient.connect(target, Credentials.load(credentials));
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List registered peers.")
    static final class NodeList extends Remote implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            try (ClusterClient client = connect()) {
                var r = client.blocking().listPeers(ListPeersRequest.getDefaultInstance());
                for (Peer p : r.getPeersList()) {
                    System.out.println(p.getNodeName() + "\t" + p.getSubnet().getIpv4()
                            + (p.getSubnet().getIpv6().isEmpty() ? "" : "," + p.getSubnet().getIpv6())
                            + "\t" + p.getEndpoint() + "\t" + p.getPublicKey());
                }
            }
            return 0;
        }
    }

    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Remove a node: its registration, its subnet, its certificates.")
    static final class NodeRemove extends Remote implements Callable<Integer> {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        public Integer call() throws Exception {
            try (ClusterClient client = connect()) {
                client.blocking().removeNode(RemoveNodeRequest.newBuilder().setNodeName(name).build());
            }
            return 0;
        }
    }

    /** "90s", "30m", "24h", "7d", or an ISO-8601 duration. */
    static Duration parseDuration(String text) {
        try {
            if (text.matches("\\d+[smhd]")) {
                long n = Long.parseLong(text.substring(0, text.length() - 1));
                return switch (text.charAt(text.length() - 1)) {
                    case 's' -> Duration.ofSeconds(n);
                    case 'm' -> Duration.ofMinutes(n);
                    case 'h' -> Duration.ofHours(n);
                    default -> Duration.ofDays(n);
                };
            }
            return Duration.parse(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("--ttl: '" + text + "' is not a duration like 30m, 24h or 7d");
        }
    }

}
