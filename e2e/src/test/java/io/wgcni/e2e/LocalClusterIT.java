package io.wgcni.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.Skip;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command, end to end: {@code ./wgcni up} starts a cluster-manager, three nodes (namespaces
 * running node-manager) and two containers per node attached through the CNI plugin; every container is
 * reachable; {@code status} and {@code graph} describe it; {@code down} leaves the host as it was. Then the bad
 * inputs: each fails with a clear message and leaves nothing behind.
 */
class LocalClusterIT {
    private static final Path ROOT = Path.of(System.getProperty("wgcni.root", "../"));

    @TempDir
    Path data;

    private Map<String, String> before;

    record Run(int code, String out) {}

    @BeforeEach
    void requireRootAndTools() throws Exception {
        Skip.unlessRoot("the local cluster runs in network namespaces");
        Skip.unlessCommands("iproute2 wireguard-tools iputils-ping iptables", "ip", "wg", "ping", "iptables-save",
                "ss");
        Skip.unless(run(List.of("sh", "-c", "ip netns list | grep -q '^wgcni-'")).code != 0, Skip.Reason.HOST_IN_USE,
                "a local cluster is already running on this machine");
        before = hostState();
    }

    @AfterEach
    void leaveNothingBehind() throws Exception {
        if (before == null) {
            return;
        }
        wgcni("down");
        assertEquals(before, hostState(), "the host after down differs from the host before up");
    }

    @Test
    void upProvesTheMeshStatusGraphAndDownCleansUp() throws Exception {
        Run up = wgcni("up", "--no-build", "--nodes", "3", "--containers", "2");
        assertEquals(0, up.code, up.out);
        // From the first container of each node to the five other containers: 15 pings.
        assertTrue(up.out.contains("mesh: all 15 checks passed"), up.out);
        for (String node : List.of("node1", "node2", "node3")) {
            assertTrue(up.out.lines().anyMatch(l -> l.startsWith(node + " ") && l.contains("2 nodes, 2 ctr")),
                    node + " should list the other two nodes and its two containers:\n" + up.out);
        }

        Run again = wgcni("up", "--no-build");
        assertEquals(1, again.code, again.out);
        assertTrue(again.out.contains("a cluster is already running"), again.out);

        Run status = wgcni("status");
        assertEquals(0, status.code, status.out);
        assertTrue(status.out.contains("mesh: all 15 checks passed"), "the first cluster survives a second up:\n"
                + status.out);

        Run graph = wgcni("graph");
        assertEquals(0, graph.code, graph.out);
        for (String edge : List.of("node1 -- node2", "node1 -- node3", "node2 -- node3", "node1 -- n1c2")) {
            assertTrue(graph.out.contains(edge), "graph lacks " + edge + ":\n" + graph.out);
        }
        assertTrue(Files.exists(data.resolve("mesh.dot")));

        Run down = wgcni("down");
        assertEquals(0, down.code, down.out);
        assertEquals(before, hostState(), "the host after down differs from the host before up");
        assertTrue(Files.exists(data.resolve("cluster-manager.log")), "logs stay in the data directory");
    }

    @Test
    void badInputGetsAClearMessageAndChangesNothing() throws Exception {
        Run down = wgcni("down");
        assertEquals(0, down.code, down.out);
        assertTrue(down.out.contains("nothing is running"), down.out);

        Run zero = wgcni("up", "--no-build", "--nodes", "0");
        assertEquals(2, zero.code, zero.out);
        assertTrue(zero.out.contains("--nodes must be a number from 1 to 50"), zero.out);
        assertEquals(before, hostState());

        try (ServerSocket busy = new ServerSocket()) {
            busy.bind(new InetSocketAddress("0.0.0.0", 0));
            int port = busy.getLocalPort();
            Run inUse = wgcni("up", "--no-build", "--port", Integer.toString(port));
            assertEquals(1, inUse.code, inUse.out);
            assertTrue(inUse.out.contains("port " + port + " is in use"), inUse.out);
        }
        assertEquals(before, hostState());

        Run status = wgcni("status");
        assertEquals(1, status.code, status.out);
        assertTrue(status.out.contains("no cluster is running"), status.out);
    }

    private Run wgcni(String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(ROOT.resolve("wgcni").toString());
        command.addAll(List.of(args));
        return run(command);
    }

    private Run run(List<String> command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("WGCNI_LOCAL_DIR", data.toString());
        Process p = pb.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
        }
        String text = new String(out, StandardCharsets.UTF_8);
        System.out.println("$ " + String.join(" ", command) + "\n" + text);
        return new Run(p.exitValue(), text);
    }

    /** What `down` must restore: namespaces, links, routes, firewall rules, sockets, wgcni's runtime files. */
    private Map<String, String> hostState() throws Exception {
        Map<String, String> state = new TreeMap<>();
        state.put("netns", sorted("ip netns list"));
        state.put("links", sorted("ip -o link show | awk -F': ' '{print $2}'"));
        state.put("routes4", sorted("ip -4 route show table all"));
        state.put("routes6",
                sorted("ip -6 route show table all | grep -v '^local\\|^multicast\\|proto kernel' || true"));
        state.put("addresses", sorted("ip -o addr show | awk '{print $2, $4}'"));
        state.put("iptables", sorted("iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'"));
        state.put("ip6tables", sorted("ip6tables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'"));
        state.put("wireguard-sockets", listing(Path.of("/var/run/wireguard")));
        state.put("run-wgcni", listing(Path.of("/run/wgcni")));
        state.put("processes", sorted("pgrep -af '" + data + "' | grep -v pgrep || true"));
        return state;
    }

    private static String listing(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return "(none)";
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(Path::toString).sorted().collect(Collectors.joining("\n"));
        }
    }

    private String sorted(String shell) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", shell).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        assertFalse(out.contains("command not found"), out);
        return out.lines().sorted().collect(Collectors.joining("\n"));
    }
}
