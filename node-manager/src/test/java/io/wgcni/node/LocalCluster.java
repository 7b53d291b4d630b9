package io.wgcni.node;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.wgcni.api.node.Frames;
import io.wgcni.api.node.v1.AttachRequest;
import io.wgcni.api.node.v1.CniRequest;
import io.wgcni.api.node.v1.CniResponse;
import io.wgcni.api.node.v1.AttachResponse;
import io.wgcni.api.node.v1.DetachRequest;
import io.wgcni.api.node.v1.NodeGrpc;
import io.wgcni.wg.Skip;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A cluster on one machine: an underlay bridge in a hub namespace (192.168.77.254/24) with the cluster-manager,
 * and per node a namespace joined to the bridge by a veth (192.168.77.N/24, default route via the hub) running a
 * real node-manager process; containers are namespaces attached through a node's gRPC socket. Every name starts
 * with {@code nm} and a random tag, so that runs in parallel never meet; {@link #close} removes every process,
 * namespace and link, even after a failure.
 */
public final class LocalCluster implements AutoCloseable {
    static final String UNDERLAY = "192.168.77";
    static final int CLUSTER_PORT = 7443;

    private final Path root = Path.of(System.getProperty("wgcni.root", ".")).toAbsolutePath();
    private final Path work;
    final String tag = Long.toString(ThreadLocalRandom.current().nextLong(36L * 36 * 36, 36L * 36 * 36 * 36), 36);
    final String hub = "nm" + tag + "h";
    private final List<String> namespaces = new ArrayList<>();
    private final List<NodeProcess> nodes = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private final EpollEventLoopGroup group = new EpollEventLoopGroup(1);
    private Process clusterManager;
    private List<String> clusterManagerArgs = List.of();
    /** 0: one cluster-manager on SQLite; otherwise that many replicas on a 3-member etcd inside the hub. */
    private int replicas;
    private final List<Process> replicaProcesses = new ArrayList<>();
    private final List<Process> etcdMembers = new ArrayList<>();
    private String clusterTarget = UNDERLAY + ".254:" + CLUSTER_PORT;
    static final String ETCD = "etcd://127.0.0.1:23791,127.0.0.1:23792,127.0.0.1:23793/wgcni/";
    private String joinToken;
    private int containers;

    private LocalCluster(Path work) {
        this.work = work;
    }

    /** Skips the caller, saying why, as non-root or where the daemons are not packaged. */
    public static void assumeBuilt() {
        Skip.unlessRoot("the cluster runs node-managers in network namespaces");
        Path root = new LocalCluster(Path.of(".")).root;
        for (String file : List.of("bin/node-manager", "node-manager/target/node-manager.jar",
                "cluster-manager/target/cluster-manager.jar")) {
            Skip.unlessExists(root.resolve(file), Skip.Reason.NOT_BUILT,
                    root.resolve(file) + " is missing: package node-manager and cluster-manager first");
        }
    }

    /** The random part of every name this cluster makes: a test's own links can carry it too. */
    public String tag() {
        return tag;
    }

    /** The hub, the cluster-manager and {@code nodes} running node-managers, each ready to attach. */
    public static LocalCluster start(Path work, int nodes) throws Exception {
        return start(work, nodes, new String[0]);
    }

    /** As {@link #start(Path, int)}, with extra arguments for {@code cluster-manager serve} (prefixes, say). */
    public static LocalCluster start(Path work, int nodes, String... clusterManagerArgs) throws Exception {
        LocalCluster c = new LocalCluster(work);
        c.clusterManagerArgs = List.of(clusterManagerArgs);
        return c.boot(nodes);
    }

    private LocalCluster boot(int nodes) throws Exception {
        try {
            startHub();
            for (int i = 1; i <= nodes; i++) {
                addNode().start();
            }
            for (NodeProcess n : this.nodes) {
                n.awaitReady();
            }
            return this;
        } catch (Exception | Error e) {
            close();
            throw e;
        }
    }

    /**
     * As {@link #start(Path, int)}, with the control plane made to survive a machine: a 3-member etcd on the hub's
     * loopback and {@code replicas} cluster-managers on it (192.168.77.254, ports 7443...); every node-manager is
     * given all of them.
     */
    public static LocalCluster startHa(Path work, int nodes, int replicas) throws Exception {
        LocalCluster c = new LocalCluster(work);
        c.replicas = replicas;
        return c.boot(nodes);
    }

    private void startHub() throws Exception {
        namespace(hub);
        run("ip", "-n", hub, "link", "add", "nm" + tag + "br", "type", "bridge");
        run("ip", "-n", hub, "address", "add", UNDERLAY + ".254/24", "dev", "nm" + tag + "br");
        run("ip", "-n", hub, "link", "set", "nm" + tag + "br", "up");
        if (replicas > 0) {
            startControlPlane();
            joinToken = run("ip", "netns", "exec", hub, root.resolve("bin/cluster-manager").toString(), "token",
                    "create", "--data-dir", work.resolve("cluster-manager").toString(), "--store", ETCD).strip();
            return;
        }
        startClusterManager();
        joinToken = run(root.resolve("bin/cluster-manager").toString(), "token", "create", "--data-dir",
                work.resolve("cluster-manager").toString()).strip();
    }

    private void startClusterManager() throws Exception {
        Path data = Files.createDirectories(work.resolve("cluster-manager"));
        Path log = work.resolve("cluster-manager.log");
        long offset = Files.exists(log) ? Files.size(log) : 0;
        List<String> cmd = new ArrayList<>(List.of(root.resolve("bin/cluster-manager").toString(),
                "serve", "--data-dir", data.toString(), "--listen", UNDERLAY + ".254:" + CLUSTER_PORT,
                "--metrics-listen", "off"));
        cmd.addAll(clusterManagerArgs);
        clusterManager = start(hub, log, cmd.toArray(String[]::new));
        awaitLog(log, "cluster-manager listening on", offset, 60, clusterManager);
    }

    private void startControlPlane() throws Exception {
        String peers = "e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803";
        for (int m = 1; m <= 3; m++) {
            etcdMembers.add(start(hub, work.resolve("etcd-e" + m + ".log"), "/usr/bin/etcd", "--name", "e" + m,
                    "--data-dir", work.resolve("etcd-e" + m).toString(),
                    "--listen-client-urls", "http://127.0.0.1:2379" + m, "--advertise-client-urls", "http://127.0.0.1:2379" + m,
                    "--listen-peer-urls", "http://127.0.0.1:2380" + m, "--initial-advertise-peer-urls", "http://127.0.0.1:2380" + m,
                    "--initial-cluster", peers, "--initial-cluster-state", "new", "--initial-cluster-token", "nm" + tag,
                    "--heartbeat-interval", "100", "--election-timeout", "1000"));
        }
        List<String> targets = new ArrayList<>();
        for (int r = 1; r <= replicas; r++) {
            Path data = Files.createDirectories(work.resolve(r == 1 ? "cluster-manager" : "cluster-manager-" + r));
            if (r > 1) {
                for (String f : List.of("ca.crt", "ca.key")) {
                    Files.copy(work.resolve("cluster-manager").resolve(f), data.resolve(f),
                            java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
            String listen = UNDERLAY + ".254:" + (CLUSTER_PORT + r - 1);
            Path log = work.resolve("cluster-manager-" + r + ".log");
            Process p = start(hub, log, root.resolve("bin/cluster-manager").toString(), "serve", "--data-dir",
                    data.toString(), "--listen", listen, "--metrics-listen", "off", "--store", ETCD);
            replicaProcesses.add(p);
            awaitLog(log, "cluster-manager listening on", 0, 90, p);
            targets.add(listen);
        }
        clusterTarget = String.join(",", targets);
    }

    /** SIGKILL of cluster-manager replica r (1-based). */
    public void killReplica(int r) throws InterruptedException {
        Process p = replicaProcesses.get(r - 1);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGKILL of etcd member m (1-based). */
    public void killEtcdMember(int m) throws InterruptedException {
        Process p = etcdMembers.get(m - 1);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    /** Kills the cluster-manager with SIGKILL and starts it again on the same data. */
    public void restartClusterManager() throws Exception {
        killClusterManager();
        startClusterManager();
    }

    /** SIGKILL of the (single) cluster-manager; {@link #restartClusterManager} brings it back. */
    public void killClusterManager() throws InterruptedException {
        clusterManager.destroyForcibly();
        clusterManager.waitFor(10, TimeUnit.SECONDS);
    }

    /** Runs the cluster-manager's CLI (in the hub, where it listens) with admin credentials. */
    public String clusterManager(String... args) throws IOException {
        Path admin = work.resolve("admin");
        if (!Files.exists(admin)) {
            run(root.resolve("bin/cluster-manager").toString(), "admin-credentials", "--data-dir",
                    work.resolve("cluster-manager").toString(), "--out", admin.toString());
        }
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", hub,
                root.resolve("bin/cluster-manager").toString()));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--target", clusterTarget, "--credentials", admin.toString()));
        return run(cmd.toArray(String[]::new));
    }

    /** A new node namespace on the underlay, its node-manager not started yet. */
    public NodeProcess addNode() throws IOException {
        int n = nodes.size() + 1;
        String ns = "nm" + tag + "n" + n;
        namespace(ns);
        String hubSide = "nm" + tag + "v" + n;
        run("ip", "link", "add", hubSide, "netns", hub, "type", "veth", "peer", "name", "eth0", "netns", ns);
        run("ip", "-n", hub, "link", "set", hubSide, "master", "nm" + tag + "br");
        run("ip", "-n", hub, "link", "set", hubSide, "up");
        run("ip", "-n", ns, "address", "add", UNDERLAY + "." + n + "/24", "dev", "eth0");
        run("ip", "-n", ns, "link", "set", "eth0", "up");
        run("ip", "-n", ns, "route", "add", "default", "via", UNDERLAY + ".254");
        NodeProcess node = new NodeProcess(n, ns);
        nodes.add(node);
        return node;
    }

    public NodeProcess node(int n) {
        return nodes.get(n - 1);
    }

    public List<NodeProcess> nodes() {
        return List.copyOf(nodes);
    }

    /** A namespace on the underlay that is not a node (an external client's laptop), at 192.168.77.{@code host}. */
    public String addHost(String role, int host) throws IOException {
        String ns = "nm" + tag + role;
        namespace(ns);
        String hubSide = "nm" + tag + "x" + host;
        run("ip", "link", "add", hubSide, "netns", hub, "type", "veth", "peer", "name", "eth0", "netns", ns);
        run("ip", "-n", hub, "link", "set", hubSide, "master", "nm" + tag + "br");
        run("ip", "-n", hub, "link", "set", hubSide, "up");
        run("ip", "-n", ns, "address", "add", UNDERLAY + "." + host + "/24", "dev", "eth0");
        run("ip", "-n", ns, "link", "set", "eth0", "up");
        return ns;
    }

    /** A container: an empty namespace, attached to a node as eth0. */
    /** {@code address}: the container's IPv4 address; {@code addresses}: all of them, CIDR. */
    public record Container(String netns, String address, NodeProcess node, List<String> addresses) {
        Container(String netns, String address, NodeProcess node) {
            this(netns, address, node, List.of());
        }
    }

    /** Creates a container namespace and attaches it to {@code node}. */
    public Container container(NodeProcess node) throws IOException {
        return attach(node, emptyNamespace());
    }

    /** Attaches the namespace {@code ns} to {@code node} as eth0, named {@code ns}, in the network "wgcni". */
    public static Container attach(NodeProcess node, String ns) {
        try {
            AttachResponse r = node.api().attach(AttachRequest.newBuilder().setContainerId(ns)
                    .setNetns("/var/run/netns/" + ns).setIfname("eth0").setNetworkName("wgcni").build());
            String cidr = r.getAddresses(0);
            return new Container(ns, cidr.substring(0, cidr.indexOf('/')), node, r.getAddressesList());
        } catch (StatusRuntimeException e) {
            throw new IllegalStateException(ns + ": " + e.getStatus(), e);
        }
    }

    /** Creates a container namespace and attaches it to {@code node} through the CNI socket, as the plugin does. */
    public Container containerViaCni(NodeProcess node) throws IOException {
        String ns = "nm" + tag + "c" + (++containers);
        namespace(ns);
        CniResponse r = node.cni(CniRequest.newBuilder().setAttach(AttachRequest.newBuilder().setContainerId(ns)
                .setNetns("/var/run/netns/" + ns).setIfname("eth0").setNetworkName("wgcni")).build());
        if (r.hasError()) {
            throw new IOException("CNI attach failed: " + r.getError());
        }
        String cidr = r.getAttach().getAddresses(0);
        return new Container(ns, cidr.substring(0, cidr.indexOf('/')), node);
    }

    /** Creates a container namespace, not attached. */
    public String emptyNamespace() throws IOException {
        String ns = "nm" + tag + "c" + (++containers);
        namespace(ns);
        return ns;
    }

    public static void detach(Container c) {
        detach(c.node(), c.netns());
    }

    /** Detaches what {@link #attach} attached (and succeeds when nothing is). */
    public static void detach(NodeProcess node, String ns) {
        try {
            node.api().detach(DetachRequest.newBuilder().setContainerId(ns).setIfname("eth0")
                    .setNetns("/var/run/netns/" + ns).build());
        } catch (StatusRuntimeException e) {
            throw new IllegalStateException(ns + ": " + e.getStatus(), e);
        }
    }

    /** One node-manager process (and its restarts) in a node namespace. */
    public final class NodeProcess {
        public final int index;
        public final String netns;
        public final String name;
        public final String iface;
        public final Path dataDir;
        public final Path socket;
        public final Path cniSocket;
        public final Path log;
        private Process process;
        private long logOffset;
        private ManagedChannel channel;

        NodeProcess(int index, String netns) throws IOException {
            this.index = index;
            this.netns = netns;
            this.name = "node" + index;
            this.iface = "nm" + tag + "w" + index;
            this.dataDir = work.resolve(name);
            Path run = Files.createDirectories(work.resolve(name + "-run"));
            this.socket = run.resolve("node.sock");
            this.cniSocket = run.resolve("cni.sock");
            this.log = work.resolve(name + ".log");
        }

        /** Starts node-manager; {@link #awaitReady} waits for it. */
        public NodeProcess start(String... extra) throws IOException {
            // A channel made while no node-manager listened (a call racing a kill) would fail its next call fast
            // with the refused connect it remembers: the new process gets a new channel.
            disconnect();
            logOffset = Files.exists(log) ? Files.size(log) : 0;
            List<String> cmd = new ArrayList<>(List.of(root.resolve("bin/node-manager").toString(), "run",
                    "--cluster", clusterTarget, "--join-token", joinToken, "--node-name", name,
                    "--data-dir", dataDir.toString(), "--interface", iface, "--socket", socket.toString(),
                    "--cni-socket", cniSocket.toString()));
            // Metrics stay on their default, 127.0.0.1:9711: each node has a loopback of its own.
            cmd.addAll(List.of(extra));
            process = LocalCluster.this.start(netns, log, cmd.toArray(String[]::new));
            return this;
        }

        /** The node's address on the underlay, where its WireGuard and any port it publishes listen. */
        public String underlayAddress() {
            return UNDERLAY + "." + index;
        }

        public NodeProcess awaitReady() throws Exception {
            awaitLog(log, "node-manager ready", logOffset, 60, process);
            return this;
        }

        /** SIGKILL: nothing is cleaned up. */
        public void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }

        /**
         * Starts {@code call}, kills this node-manager with -9 up to {@code maxDelayMillis} later (before, during or
         * after the call: its outcome is unknown, and the caller undoes it), and restarts it.
         */
        public void killDuring(Runnable call, Random random, int maxDelayMillis) throws Exception {
            CompletableFuture<Void> running = CompletableFuture.runAsync(call);
            Thread.sleep(random.nextInt(maxDelayMillis));
            disconnect();
            kill();
            try {
                running.get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                // killed under it
            }
            start().awaitReady();
        }

        /** SIGTERM, and waits for the clean shutdown; returns the exit status. */
        public int stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError(name + " did not stop within 30 s of SIGTERM");
            }
            return process.exitValue();
        }

        /** The node-manager JVM's pid ({@code ip netns exec} and the launcher both exec into it). */
        public long pid() {
            return process.pid();
        }

        public boolean isAlive() {
            return process != null && process.isAlive();
        }

        /** The node API on its gRPC socket; the channel is made anew after a restart. */
        public synchronized NodeGrpc.NodeBlockingStub api() {
            if (channel == null || channel.isShutdown()) {
                channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                        .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
            }
            return NodeGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
        }

        /** Runs {@code bin/node-manager ARGS... --socket SOCKET}: the operator's client commands. */
        public String cli(String... args) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(root.resolve("bin/node-manager").toString()));
            cmd.addAll(List.of(args));
            cmd.addAll(List.of("--socket", socket.toString()));
            return run(cmd.toArray(String[]::new));
        }

        /** One call on the CNI socket: a length-prefixed request, a length-prefixed response. */
        public CniResponse cni(CniRequest request) throws IOException {
            try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(cniSocket))) {
                Frames.write(ch, request);
                return Frames.read(ch, CniResponse.parser());
            }
        }

        /** Closes the API channel (before a restart). */
        public synchronized void disconnect() {
            if (channel != null) {
                channel.shutdownNow();
                channel = null;
            }
        }

        /** Runs a command in the node's namespace. */
        public String exec(String... cmd) throws IOException {
            List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
            full.addAll(List.of(cmd));
            return run(full.toArray(String[]::new));
        }

        public String logText() throws IOException {
            return Files.exists(log) ? Files.readString(log) : "";
        }
    }

    /** Copies the processes' logs to target/it-logs/TAG (the work directory is usually a test's temporary one). */
    private void keepLogs() {
        try (var logs = Files.list(work)) {
            Path kept = Files.createDirectories(Path.of("target", "it-logs", tag));
            for (Path log : logs.filter(p -> p.toString().endsWith(".log")).toList()) {
                Files.copy(log, kept.resolve(log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // only a debugging aid
        }
    }

    /** Waits until {@code log} holds {@code line} after {@code offset}; fails early when the process died. */
    static void awaitLog(Path log, String line, long offset, int seconds, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (Files.exists(log)) {
                String text = Files.readString(log, StandardCharsets.UTF_8);
                if (text.length() > offset && text.substring((int) Math.min(offset, text.length())).contains(line)) {
                    return;
                }
            }
            if (!p.isAlive()) {
                throw new AssertionError("the process exited (" + p.exitValue() + ") before \"" + line + "\":\n"
                        + tail(log));
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no \"" + line + "\" within " + seconds + " s:\n" + tail(log));
    }

    public static String tail(Path log) throws IOException {
        if (!Files.exists(log)) {
            return "(no log)";
        }
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    private void namespace(String ns) throws IOException {
        run("ip", "netns", "add", ns);
        namespaces.add(ns);
        run("ip", "-n", ns, "link", "set", "lo", "up");
    }

    private Process start(String ns, Path log, String... cmd) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(List.of(cmd));
        Process p = new ProcessBuilder(full).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        processes.add(p);
        return p;
    }

    /** Runs a command to completion; its stdout, or an exception with its output. */
    public static String run(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        try {
            var err = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return "";
                }
            });
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + String.join(" ", cmd));
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " exited " + p.exitValue() + ": " + out.strip() + " "
                        + err.join().strip());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", cmd));
        }
    }

    @Override
    public void close() {
        for (NodeProcess n : nodes) {
            n.disconnect();
        }
        keepLogs();
        for (Process p : processes) {
            p.destroy(); // node-managers clean up after themselves on SIGTERM
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        for (String ns : namespaces.reversed()) {
            try {
                run("ip", "netns", "delete", ns);
            } catch (IOException e) {
                // already gone
            }
        }
        // A node-manager killed with -9 leaves its UAPI socket behind (the next one would replace it).
        for (NodeProcess n : nodes) {
            try {
                Files.deleteIfExists(Path.of("/var/run/wireguard", n.iface + ".sock"));
            } catch (IOException e) {
                // best effort
            }
        }
    }
}
