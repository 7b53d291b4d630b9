package io.wgcni.node;

import io.wgcni.node.LocalCluster.Container;
import io.wgcni.node.LocalCluster.NodeProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The node-manager benchmark (node-manager/bench.sh runs it, as root, after a build): on a local cluster of two
 * nodes, container-to-container TCP throughput with iperf3 across the nodes and on one node, the latency of 100
 * Attach calls on the node's gRPC socket (p50, p99), and node-manager's resident memory before and after those
 * 100 containers.
 */
public final class NodeBenchmark {
    private NodeBenchmark() {}

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Path work = Files.createTempDirectory("nm-bench");
        try (LocalCluster cluster = LocalCluster.start(work, 2)) {
            NodeProcess n1 = cluster.node(1);
            Container a = cluster.container(n1);
            Container a2 = cluster.container(n1);
            Container b = cluster.container(cluster.node(2));
            Thread.sleep(2000);
            long rssBefore = rssKiB(n1);
            List<Double> millis = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                String ns = cluster.emptyNamespace();
                long start = System.nanoTime();
                n1.api().attach(io.wgcni.api.node.v1.AttachRequest.newBuilder().setContainerId(ns)
                        .setNetns("/var/run/netns/" + ns).setIfname("eth0").setNetworkName("wgcni").build());
                millis.add((System.nanoTime() - start) / 1e6);
            }
            Thread.sleep(2000);
            long rssAfter = rssKiB(n1);
            Collections.sort(millis);
            System.out.printf("Attach over gRPC, 100 containers: p50 %.0f ms, p99 %.0f ms, max %.0f ms%n",
                    millis.get(49), millis.get(98), millis.get(99));
            System.out.printf("node-manager RSS: %d MiB with 3 containers, %d MiB with 103: %d MiB per 100%n",
                    rssBefore / 1024, rssAfter / 1024, (rssAfter - rssBefore) / 1024);
            // Throughput last: the traffic fills the devices' buffer pools, which would count as per-container memory.
            System.out.printf("TCP across two nodes (iperf3, %d s): %.0f Mbit/s%n", seconds, iperf(a, b, seconds));
            System.out.printf("TCP on one node (iperf3, %d s):     %.0f Mbit/s%n", seconds, iperf(a, a2, seconds));
        } finally {
            try (var files = Files.walk(work)) {
                files.sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Receiver-side throughput of one iperf3 TCP stream from {@code from} to {@code to}, Mbit/s. */
    static double iperf(Container from, Container to, int seconds) throws Exception {
        Process server = new ProcessBuilder("ip", "netns", "exec", to.netns(), "iperf3", "-s", "-1", "-B",
                to.address()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            Thread.sleep(500);
            NodeManagerIT.awaitPing(from, to);
            String json = LocalCluster.run("ip", "netns", "exec", from.netns(), "iperf3", "-c", to.address(), "-t",
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
