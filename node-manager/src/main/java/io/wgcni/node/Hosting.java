package io.wgcni.node;

import io.wgcni.tun.CommandException;
import io.wgcni.wg.device.Prefix;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What makes the host a router for its containers: IP forwarding on, and iptables rules in chains of our own
 * that accept forwarding into and out of wg0 and masquerade the cluster's traffic to the outside world. The
 * chains are jumped to from FORWARD and nat POSTROUTING; everything is added idempotently (a node-manager killed
 * with -9 finds its chains again and rewrites them) and removed by {@link #close}, which also puts the
 * forwarding switches back as they were.
 */
final class Hosting implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Hosting.class);
    static final String FORWARD_CHAIN = "WGCNI-FORWARD";
    static final String NAT_CHAIN = "WGCNI-POSTROUTING";
    private static final Path IPV4_FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");
    private static final Path IPV6_FORWARD = Path.of("/proc/sys/net/ipv6/conf/all/forwarding");

    private final String wg0;
    private final List<Prefix> cluster;
    private final List<Runnable> undo = new ArrayList<>();

    private Hosting(String wg0, List<Prefix> cluster) {
        this.wg0 = wg0;
        this.cluster = cluster;
    }

    /** Turns forwarding on and installs the rules for {@code wg0} and the cluster's prefixes (IPv4, maybe IPv6). */
    static Hosting install(String wg0, List<Prefix> cluster) throws IOException {
        Hosting h = new Hosting(wg0, cluster);
        try {
            for (Prefix prefix : cluster) {
                h.enableForwarding(prefix.isV4() ? IPV4_FORWARD : IPV6_FORWARD);
                h.installRules(prefix.isV4() ? "iptables" : "ip6tables", prefix);
            }
            return h;
        } catch (IOException | RuntimeException e) {
            h.close();
            throw e;
        }
    }

    private void enableForwarding(Path sysctl) throws IOException {
        String before = Files.readString(sysctl, StandardCharsets.US_ASCII).strip();
        if (!before.equals("1")) {
            Files.writeString(sysctl, "1\n", StandardCharsets.US_ASCII);
            log.info("Turned on {} (was {})", sysctl, before);
            undo.add(() -> {
                try {
                    Files.writeString(sysctl, before + "\n", StandardCharsets.US_ASCII);
                } catch (IOException e) {
                    log.warn("Could not restore {} to {}: {}", sysctl, before, e.getMessage());
                }
            });
        }
    }

    private void installRules(String iptables, Prefix cluster) throws IOException {
        String c = cluster.toString();
        undo.add(() -> removeChain(iptables, "filter", "FORWARD", FORWARD_CHAIN));
        resetChain(iptables, "filter", FORWARD_CHAIN);
        // Containers reach each other (on this node and across nodes) and the outside world through wg0: what
        // arrives on wg0 was authenticated by WireGuard (its allowed IPs). The outside world answers only on
        // connections they opened, and on ports this node publishes on purpose (a DNAT rule here sent them in:
        // a hostPort, portmap's); anything else headed into wg0 (a LAN host routing the cluster prefix here,
        // with any source address) is dropped, whatever the FORWARD policy.
        run(iptables, "-w", "-t", "filter", "-A", FORWARD_CHAIN, "-i", wg0, "-s", c, "-j", "ACCEPT");
        run(iptables, "-w", "-t", "filter", "-A", FORWARD_CHAIN, "-o", wg0, "-m", "conntrack", "--ctstate",
                "RELATED,ESTABLISHED", "-j", "ACCEPT");
        run(iptables, "-w", "-t", "filter", "-A", FORWARD_CHAIN, "-o", wg0, "-m", "conntrack", "--ctstate",
                "DNAT", "-j", "ACCEPT");
        run(iptables, "-w", "-t", "filter", "-A", FORWARD_CHAIN, "-o", wg0, "-j", "DROP");
        jump(iptables, "filter", "FORWARD", FORWARD_CHAIN, true);

        undo.add(() -> removeChain(iptables, "nat", "POSTROUTING", NAT_CHAIN));
        resetChain(iptables, "nat", NAT_CHAIN);
        // Traffic staying inside the cluster keeps its source address; traffic leaving it takes the node's.
        run(iptables, "-w", "-t", "nat", "-A", NAT_CHAIN, "-s", c, "-d", c, "-j", "RETURN");
        run(iptables, "-w", "-t", "nat", "-A", NAT_CHAIN, "-s", c, "!", "-o", wg0, "-j", "MASQUERADE");
        jump(iptables, "nat", "POSTROUTING", NAT_CHAIN, false);
    }

    /** Creates the chain, or empties it when a previous run left it behind. */
    private static void resetChain(String iptables, String table, String chain) throws IOException {
        if (!succeeds(iptables, "-w", "-t", table, "-N", chain)) {
            run(iptables, "-w", "-t", table, "-F", chain);
        }
    }

    private static void jump(String iptables, String table, String from, String chain, boolean first)
            throws IOException {
        if (!succeeds(iptables, "-w", "-t", table, "-C", from, "-j", chain)) {
            if (first) {
                run(iptables, "-w", "-t", table, "-I", from, "1", "-j", chain);
            } else {
                run(iptables, "-w", "-t", table, "-A", from, "-j", chain);
            }
        }
    }

    private static void removeChain(String iptables, String table, String from, String chain) {
        try {
            while (succeeds(iptables, "-w", "-t", table, "-D", from, "-j", chain)) {
                // a jump added twice (by hand, say) goes too
            }
            if (succeeds(iptables, "-w", "-t", table, "-F", chain)) {
                run(iptables, "-w", "-t", table, "-X", chain);
            }
        } catch (IOException e) {
            log.warn("Could not remove the iptables chain {} ({} table): {}", chain, table, e.getMessage());
        }
    }

    private static void run(String... cmd) throws IOException {
        Result r = exec(cmd);
        if (r.code != 0) {
            throw new CommandException(List.of(cmd), r.code, r.output);
        }
    }

    private static boolean succeeds(String... cmd) throws IOException {
        return exec(cmd).code == 0;
    }

    private record Result(int code, String output) {}

    private static Result exec(String... cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        try {
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new CommandException(List.of(cmd), -1, "timed out");
            }
            return new Result(p.exitValue(), output);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted running " + String.join(" ", cmd));
        }
    }

    /** Removes the rules and puts the forwarding switches back, newest first. */
    @Override
    public void close() {
        for (Runnable r : undo.reversed()) {
            r.run();
        }
        undo.clear();
    }
}
