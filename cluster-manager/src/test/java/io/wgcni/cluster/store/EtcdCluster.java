package io.wgcni.cluster.store;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real etcd cluster of {@code n} members (Debian's etcd-server), each a child process listening on loopback ports
 * only, with its data in dir. Members can be killed (SIGKILL) and started again on their data.
 */
public final class EtcdCluster implements AutoCloseable {
    static final Path ETCD = Path.of("/usr/bin/etcd");

    private final Path dir;
    private final int[] clientPorts;
    private final int[] peerPorts;
    private final Process[] members;
    private final String initialCluster;

    private EtcdCluster(Path dir, int n) throws IOException {
        this.dir = dir;
        clientPorts = new int[n];
        peerPorts = new int[n];
        members = new Process[n];
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket a = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
                ServerSocket b = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
                held.add(a);
                held.add(b);
                clientPorts[i] = a.getLocalPort();
                peerPorts[i] = b.getLocalPort();
            }
        } finally {
            for (ServerSocket s : held) {
                s.close();
            }
        }
        List<String> peers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            peers.add(name(i) + "=http://127.0.0.1:" + peerPorts[i]);
        }
        initialCluster = String.join(",", peers);
    }

    /** Skips the calling test, saying why, when etcd is not installed. */
    public static void assumeInstalled() {
        assumeTrue(Files.isExecutable(ETCD), "etcd is not installed (apt-get install etcd-server): etcd tests skipped");
    }

    /** Starts n members and waits until each answers on its client port. */
    public static EtcdCluster start(Path dir, int n) throws Exception {
        if (!Files.isExecutable(ETCD)) {
            throw new IllegalStateException(ETCD + " is missing: apt-get install etcd-server");
        }
        EtcdCluster c = new EtcdCluster(dir, n);
        try {
            for (int i = 0; i < n; i++) {
                c.startMember(i);
            }
            for (int i = 0; i < n; i++) {
                c.awaitMember(i);
            }
            return c;
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
    }

    private static String name(int i) {
        return "m" + (i + 1);
    }

    /** Starts member i (again, on its data directory after a kill). */
    public void startMember(int i) throws IOException {
        Path data = dir.resolve(name(i));
        boolean existing = Files.isDirectory(data);
        ProcessBuilder pb = new ProcessBuilder(ETCD.toString(),
                "--name", name(i),
                "--data-dir", data.toString(),
                "--listen-client-urls", "http://127.0.0.1:" + clientPorts[i],
                "--advertise-client-urls", "http://127.0.0.1:" + clientPorts[i],
                "--listen-peer-urls", "http://127.0.0.1:" + peerPorts[i],
                "--initial-advertise-peer-urls", "http://127.0.0.1:" + peerPorts[i],
                "--initial-cluster", initialCluster,
                "--initial-cluster-state", existing ? "existing" : "new",
                "--initial-cluster-token", "wgcni-test-" + dir.getFileName(),
                "--heartbeat-interval", "100", "--election-timeout", "1000",
                "--logger", "zap", "--log-outputs", dir.resolve(name(i) + ".log").toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(name(i) + ".out").toFile()));
        members[i] = pb.start();
    }

    private void awaitMember(int i) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!members[i].isAlive()) {
                throw new IllegalStateException("etcd member " + name(i) + " exited: "
                        + Files.readString(dir.resolve(name(i) + ".out")));
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", clientPorts[i]), 200);
                return;
            } catch (IOException notYet) {
                Thread.sleep(100);
            }
        }
        throw new IllegalStateException("etcd member " + name(i) + " does not listen on " + clientPorts[i]);
    }

    /** SIGKILL of member i. */
    public void kill(int i) throws InterruptedException {
        members[i].destroyForcibly();
        members[i].waitFor(10, TimeUnit.SECONDS);
    }

    /** Starts a killed member again and waits until it listens; nothing when it runs. */
    public void restart(int i) throws Exception {
        if (members[i] != null && members[i].isAlive()) {
            return;
        }
        startMember(i);
        awaitMember(i);
    }

    /** The index of the member that leads now. */
    public int leader() throws Exception {
        try (io.etcd.jetcd.Client client = io.etcd.jetcd.Client.builder().endpoints(
                java.util.Arrays.stream(clientPorts).mapToObj(p -> "http://127.0.0.1:" + p).toArray(String[]::new)).build()) {
            for (int i = 0; i < clientPorts.length; i++) {
                if (members[i] == null || !members[i].isAlive()) {
                    continue;
                }
                var status = client.getMaintenanceClient().statusMember("http://127.0.0.1:" + clientPorts[i])
                        .get(5, TimeUnit.SECONDS);
                if (status.getLeader() == status.getHeader().getMemberId()) {
                    return i;
                }
            }
        }
        throw new IllegalStateException("no etcd member leads");
    }

    /** host:port of every member's client URL, comma separated. */
    public String endpoints() {
        List<String> e = new ArrayList<>();
        for (int p : clientPorts) {
            e.add("127.0.0.1:" + p);
        }
        return String.join(",", e);
    }

    public String url(String prefix) {
        return "etcd://" + endpoints() + prefix;
    }

    public EtcdStore.Config config(String prefix) {
        return EtcdStore.Config.parse(url(prefix));
    }

    public int clientPort(int i) {
        return clientPorts[i];
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : members) {
            if (p != null && p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
