package io.wgcni.cni;

import io.wgcni.wg.Skip;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real node-managers for the plugin to talk to: an underlay bridge in a hub namespace (192.168.77.254/24) with a
 * cluster-manager, and per node a namespace on the bridge (192.168.77.N/24) running bin/node-manager with its
 * CNI socket in the test's directory. Containers are namespaces the tests attach through the plugin. Every
 * namespace and link is named "cn" + a random tag; {@link #close} stops the processes (node-managers clean up
 * on SIGTERM) and removes every namespace, even after a failure.
 */
final class Cluster implements AutoCloseable {
    static final String UNDERLAY = "192.168.77";
    private static final int CLUSTER_PORT = 7443;

    private final Path root = Path.of(System.getProperty("wgcni.root", "..")).toAbsolutePath().normalize();
    private final Path work;
    final String tag = Sh.unique("");
    private final String hub = tag + "h";
    private final List<String> namespaces = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private String joinToken;
    private int containers;

    private Cluster(Path work) {
        this.work = work;
    }

    /** For the tests: skips them, saying why, as non-root or where the daemons are not packaged. */
    static void assumeBuilt() {
        Skip.unlessRoot("the cluster runs node-managers in network namespaces");
        Path root = new Cluster(Path.of(".")).root;
        for (String file : List.of("bin/node-manager", "node-manager/target/node-manager.jar",
                "cluster-manager/target/cluster-manager.jar")) {
            Skip.unlessExists(root.resolve(file), Skip.Reason.NOT_BUILT,
                    root.resolve(file) + " is missing: package node-manager and cluster-manager first");
        }
    }

    static Cluster start(Path work, int nodes) throws Exception {
        Cluster c = new Cluster(work);
        try {
            c.startHub();
            for (int i = 1; i <= nodes; i++) {
                c.addNode();
            }
            for (Node n : c.nodes) {
                n.awaitReady();
            }
            return c;
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
    }

    private void startHub() throws Exception {
        namespace(hub);
        Sh.run("ip", "-n", hub, "link", "add", tag + "br", "type", "bridge");
        Sh.run("ip", "-n", hub, "address", "add", UNDERLAY + ".254/24", "dev", tag + "br");
        Sh.run("ip", "-n", hub, "link", "set", tag + "br", "up");
        Path data = Files.createDirectories(work.resolve("cluster-manager"));
        Path log = work.resolve("cluster-manager.log");
        Process cm = start(hub, log, root.resolve("bin/cluster-manager").toString(), "serve", "--data-dir",
                data.toString(), "--listen", UNDERLAY + ".254:" + CLUSTER_PORT, "--metrics-listen", "off");
        awaitLog(log, "cluster-manager listening on", 0, 60, cm);
        joinToken = Sh.run(root.resolve("bin/cluster-manager").toString(), "token", "create", "--data-dir",
                data.toString()).strip();
    }

    private Node addNode() throws IOException {
        int n = nodes.size() + 1;
        String ns = tag + "n" + n;
        namespace(ns);
        String hubSide = tag + "v" + n;
        Sh.run("ip", "link", "add", hubSide, "netns", hub, "type", "veth", "peer", "name", "eth0", "netns", ns);
        Sh.run("ip", "-n", hub, "link", "set", hubSide, "master", tag + "br");
        Sh.run("ip", "-n", hub, "link", "set", hubSide, "up");
        Sh.run("ip", "-n", ns, "address", "add", UNDERLAY + "." + n + "/24", "dev", "eth0");
        Sh.run("ip", "-n", ns, "link", "set", "eth0", "up");
        Sh.run("ip", "-n", ns, "route", "add", "default", "via", UNDERLAY + ".254");
        Node node = new Node(n, ns);
        nodes.add(node);
        node.start();
        return node;
    }

    Node node(int n) {
        return nodes.get(n - 1);
    }

    /** A new, empty network namespace for a container; its path is /var/run/netns/NAME. */
    String containerNamespace() throws IOException {
        String ns = tag + "c" + (++containers);
        namespace(ns);
        return ns;
    }

    /** Runs a command in a namespace; its result, whatever the exit status. */
    static Sh.Result in(String netns, String... command) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        full.addAll(List.of(command));
        return Sh.exec(java.util.Map.of(), false, new byte[0], full);
    }

    final class Node {
        final int index;
        final String netns;
        final Path cniSocket;
        final Path log;
        private final Path dataDir;
        final Path apiSocket;
        private Process process;
        private long logOffset;

        Node(int index, String netns) throws IOException {
            this.index = index;
            this.netns = netns;
            this.dataDir = work.resolve("node" + index);
            Path run = Files.createDirectories(work.resolve("node" + index + "-run"));
            this.apiSocket = run.resolve("node.sock");
            this.cniSocket = run.resolve("cni.sock");
            this.log = work.resolve("node" + index + ".log");
        }

        void start() throws IOException {
            logOffset = Files.exists(log) ? Files.size(log) : 0;
            process = Cluster.this.start(netns, log, root.resolve("bin/node-manager").toString(), "run",
                    "--cluster", UNDERLAY + ".254:" + CLUSTER_PORT, "--join-token", joinToken,
                    "--node-name", "node" + index, "--data-dir", dataDir.toString(), "--interface", tag + "w" + index,
                    "--socket", apiSocket.toString(), "--cni-socket", cniSocket.toString(),
                    "--metrics-listen", "off");
        }

        void awaitReady() throws Exception {
            awaitLog(log, "node-manager ready", logOffset, 60, process);
        }

        /** SIGTERM and wait. */
        void stop() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    static void awaitLog(Path log, String line, long offset, int seconds, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (Files.exists(log)) {
                String text = Files.readString(log, StandardCharsets.UTF_8);
                if (text.length() > offset && text.substring((int) offset).contains(line)) {
                    return;
                }
            }
            if (!p.isAlive()) {
                throw new AssertionError("exited (" + p.exitValue() + ") before \"" + line + "\":\n" + tail(log));
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no \"" + line + "\" within " + seconds + " s:\n" + tail(log));
    }

    static String tail(Path log) throws IOException {
        if (!Files.exists(log)) {
            return "(no log)";
        }
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    private void namespace(String ns) throws IOException {
        Sh.run("ip", "netns", "add", ns);
        namespaces.add(ns);
        Sh.run("ip", "-n", ns, "link", "set", "lo", "up");
    }

    private Process start(String ns, Path log, String... command) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(List.of(command));
        Process p = new ProcessBuilder(full).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        processes.add(p);
        return p;
    }

    @Override
    public void close() {
        for (Process p : processes.reversed()) {
            p.destroy();
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        keepLogs();
        for (String ns : namespaces.reversed()) {
            Sh.quietly("ip", "netns", "delete", ns);
        }
    }

    /** The logs to target/it-logs/TAG: the work directory is a test's temporary one. */
    private void keepLogs() {
        try (var logs = Files.list(work)) {
            Path kept = Files.createDirectories(Path.of("target", "it-logs", tag));
            for (Path log : logs.filter(p -> p.toString().endsWith(".log")).toList()) {
                Files.copy(log, kept.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            // only a debugging aid
        }
    }
}
