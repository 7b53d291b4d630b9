package io.wgcni.node;

import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The node-manager benchmark (node-manager/bench.sh runs it, as root, after a build). On a local cluster of two
 * nodes, per round: jwg against jwg between two namespaces (benchmarks/system-bench.sh, the reference the targets
 * are stated against), then container to container across the nodes, on one node, and container to the other
 * node's own address: iperf3 TCP and the mean RTT of 200 pings 10 ms apart. Then medians and the ratios to jwg,
 * and a full node ({@link FullNodeIT#measure}: 110 containers, threads, heap, RSS, attach latency). Before the
 * first round, 5 s of iperf3 through the node-managers warm their JIT, as jwg's rehearsal warms its own.
 */
public final class NodeBenchmark {
    private static final Pattern JWG = Pattern.compile("(?m)^\\s+jwg\\s+TCP\\s+(\\d+) Mbit/s.*warm\\s+([0-9.]+) ms");
    private static final Pattern RTT = Pattern.compile("rtt min/avg/max/mdev = [0-9.]+/([0-9.]+)/");

    private static final String JWG_PAIR = "jwg <-> jwg, two namespaces";

    private NodeBenchmark() {}

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        // What to measure (all by default): jwg, across, one, node, full.
        List<String> only = args.length > 2 ? List.of(args[2].split(",")) : List.of("jwg", "across", "one", "node",
                "full");
        Path root = Path.of(System.getProperty("wgcni.root", "."));
        Path work = Files.createTempDirectory("nm-bench");
        Map<String, List<double[]>> results = new LinkedHashMap<>();
        try (LocalCluster cluster = LocalCluster.start(work, 2)) {
            NodeProcess n1 = cluster.node(1);
            NodeProcess n2 = cluster.node(2);
            Container a = cluster.container(n1);
            Container a2 = cluster.container(n1);
            Container b = cluster.container(n2);
            String node2 = b.address().substring(0, b.address().lastIndexOf('.')) + ".1"; // its wg0 address
            NodeManagerIT.awaitPing(a, b);
            NodeManagerIT.awaitPing(a, a2);
            // JIT warm-up of the node-managers' data path, not measured (jwg warms its own before it reports ready).
            iperf(a.netns(), b.netns(), b.address(), 3);
            iperf(a.netns(), a2.netns(), a2.address(), 2);
            for (int r = 1; r <= rounds; r++) {
                System.out.println("round " + r);
                if (only.contains("jwg")) {
                    record(results, JWG_PAIR, jwgPair(root, seconds));
                }
                if (only.contains("across")) {
                    record(results, "container -> container, across nodes",
                            tcpAndRtt(a.netns(), b.netns(), b.address(), seconds));
                }
                if (only.contains("one")) {
                    record(results, "container -> container, one node",
                            tcpAndRtt(a.netns(), a2.netns(), a2.address(), seconds));
                }
                if (only.contains("node")) {
                    record(results, "container -> the other node's address",
                            tcpAndRtt(a.netns(), n2.netns, node2, seconds));
                }
            }
            System.out.printf("%nmedians of %d rounds, iperf3 %d s:%n", rounds, seconds);
            double[] ref = results.containsKey(JWG_PAIR) ? median(results.get(JWG_PAIR)) : new double[] {0, 0};
            for (var e : results.entrySet()) {
                double[] m = median(e.getValue());
                System.out.printf("  %-40s TCP %6.0f Mbit/s (%.2fx jwg)   RTT %.3f ms (%.2fx jwg)%n", e.getKey(),
                        m[0], m[0] / ref[0], m[1], m[1] / ref[1]);
            }
            if (only.contains("full")) {
                System.out.println(FullNodeIT.measure(cluster));
            }
        } finally {
            try (var files = Files.walk(work)) {
                files.sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void record(Map<String, List<double[]>> results, String path, double[] tcpAndRtt) {
        System.out.printf("  %-40s TCP %6.0f Mbit/s   RTT %.3f ms%n", path, tcpAndRtt[0], tcpAndRtt[1]);
        results.computeIfAbsent(path, k -> new ArrayList<>()).add(tcpAndRtt);
    }

    /** jwg against jwg between two namespaces, one round of benchmarks/system-bench.sh: TCP Mbit/s, warm RTT ms. */
    private static double[] jwgPair(Path root, int seconds) throws Exception {
        String out = LocalCluster.run(root.resolve("benchmarks/system-bench.sh").toString(), "-t",
                Integer.toString(seconds), "-r", "1", "--impls", "jwg", "--no-mixed", "--no-extra");
        Matcher m = JWG.matcher(out);
        if (!m.find()) {
            throw new IllegalStateException("no jwg line in system-bench.sh's output: " + out);
        }
        return new double[] {Double.parseDouble(m.group(1)), Double.parseDouble(m.group(2))};
    }

    /** iperf3 TCP from namespace {@code from} to {@code address} in {@code to}, then 200 pings: Mbit/s, mean ms. */
    static double[] tcpAndRtt(String from, String to, String address, int seconds) throws Exception {
        double mbit = iperf(from, to, address, seconds);
        String ping = LocalCluster.run("ip", "netns", "exec", from, "ping", "-q", "-c", "200", "-i", "0.01",
                address);
        Matcher m = RTT.matcher(ping);
        if (!m.find()) {
            throw new IllegalStateException("no rtt in ping's output: " + ping);
        }
        return new double[] {mbit, Double.parseDouble(m.group(1))};
    }

    /** Receiver-side throughput of one iperf3 TCP stream to {@code address} in {@code to}, Mbit/s. */
    static double iperf(String from, String to, String address, int seconds) throws Exception {
        Process server = new ProcessBuilder("ip", "netns", "exec", to, "iperf3", "-s", "-1", "-B", address)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Thread.sleep(500);
            String json = LocalCluster.run("ip", "netns", "exec", from, "iperf3", "-c", address, "-t",
                    Integer.toString(seconds), "-J");
            Matcher m = Pattern.compile("\"sum_received\"\\s*:\\s*\\{[^}]*?\"bits_per_second\"\\s*:\\s*([0-9.e+]+)")
                    .matcher(json);
            if (!m.find()) {
                throw new IllegalStateException("no sum_received in iperf3's output: " + json);
            }
            return Double.parseDouble(m.group(1)) / 1e6;
        } finally {
            server.destroy();
        }
    }

    /** Per column, the median over the rounds. */
    private static double[] median(List<double[]> rows) {
        double[] out = new double[rows.getFirst().length];
        for (int c = 0; c < out.length; c++) {
            final int col = c;
            double[] v = rows.stream().mapToDouble(r -> r[col]).sorted().toArray();
            out[c] = v[v.length / 2];
        }
        return out;
    }

    /** node-manager's VmRSS: the process started by `ip netns exec`, which execs into bin/node-manager's java. */
    static long rssKiB(NodeProcess n) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(n.pid()), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS for " + n.name);
    }
}
