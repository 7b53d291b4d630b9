package io.wgcni.node.attach;

import io.wgcni.tun.Links;
import io.wgcni.tun.LinuxTun;
import io.wgcni.tun.Netns;
import io.wgcni.tun.Root;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Hop;
import io.wgcni.wg.device.Prefix;
import io.wgcni.tun.UdpBind;
import io.wgcni.wg.time.SystemClock;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A node for the tests: its own network namespace (forwarding on, as the daemon sets it) with a wg0-like hub
 * device whose TUN and UDP socket live there, a data directory, and the containers' namespaces. Everything it made
 * is removed by {@link #close}, even after a failure.
 */
final class TestNode implements AutoCloseable {
    static final NodeNetwork NETWORK = NodeNetwork.of(Prefix.parse("10.100.3.0/24"),
            Prefix.parse("fd00:100:0:3::/64"), 1400);
    static final int HUB_MTU = 1420;

    final String tag = Root.unique("na");
    final String ns = tag + "n";
    final String hubName = tag + "w";
    final Key hubKey = X25519.generatePrivateKey();
    final Path dataDir;
    private final List<String> namespaces = new ArrayList<>();
    Device hub;
    int hubPort;
    /**
     * node-manager's data-path settings for the hub ({@code NodeInterface.DataPath}): seal the hop, kernel
     * forwarding.
     */
    boolean sealHop;
    boolean kernelForwarding;

    TestNode() throws IOException {
        dataDir = Files.createTempDirectory("na-node-");
        try {
            namespace(ns);
            Netns.runIn(ns, () -> {
                Files.writeString(Path.of("/proc/sys/net/ipv4/ip_forward"), "1");
                Files.writeString(Path.of("/proc/sys/net/ipv6/conf/all/forwarding"), "1");
            });
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Starts the hub (again, after {@link #stopHub}: same key, same port) inside the node's namespace. */
    Device startHub() throws IOException {
        hub = startHub(ns, hubName, hubKey, hubPort, sealHop, kernelForwarding);
        hubPort = hub.listenPort();
        return hub;
    }

    /** A hub as the daemon makes wg0: TUN and socket in {@code netns} (null: here), .1 addresses, up. */
    static Device startHub(String netns, String name, Key key, int port) throws IOException {
        return startHub(netns, name, key, port, false, false);
    }

    static Device startHub(String netns, String name, Key key, int port, boolean sealHop, boolean kernelForwarding)
            throws IOException {
        LinuxTun tun = netns == null ? LinuxTun.create(name, HUB_MTU) : LinuxTun.createIn(netns, name, HUB_MTU);
        Device hub = new Device(name, tun, new Hop.Hub(new UdpBind(), sealHop), SystemClock.INSTANCE, 2);
        hub.setForwarding(!kernelForwarding);
        try {
            hub.setPrivateKey(Key.of(key.bytes()));
            hub.setListenPort(port);
            Links links = netns == null ? Links.host() : Links.in(netns);
            links.addAddress(name, "10.100.3.1/24");
            links.ip("address", "add", "fd00:100:0:3::1/64", "dev", name, "nodad");
            links.setUp(name);
            if (netns == null) {
                hub.up();
            } else {
                Netns.runIn(netns, hub::up);
            }
            return hub;
        } catch (IOException | RuntimeException e) {
            hub.close();
            throw e;
        }
    }

    void stopHub() {
        if (hub != null) {
            hub.close();
            hub = null;
        }
    }

    Attachments attachments() throws IOException {
        return new Attachments(dataDir, NETWORK, hub);
    }

    /** A container's namespace, with its loopback up. */
    String container(String suffix) throws IOException {
        return namespace(tag + suffix);
    }

    private String namespace(String name) throws IOException {
        Netns.add(name);
        namespaces.add(name);
        Links.in(name).setUp("lo");
        return name;
    }

    static String path(String netns) {
        return Netns.path(netns).toString();
    }

    /** Runs a command in {@code netns}; its output, or an exception with it. */
    static String exec(String netns, String... cmd) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        full.addAll(List.of(cmd));
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", full) + " failed: " + out.strip());
            }
            return out;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + full);
        }
    }

    /** Pings {@code address} from {@code netns} until one reply comes, for up to 5 s. */
    static void ping(String netns, String address) throws IOException {
        exec(netns, "ping", "-c", "1", "-w", "5", "-i", "0.2", address);
    }

    /**
     * Milliseconds until the first echo reply from {@code address}, pinging from {@code netns} every 50 ms (the fork
     * of ping included); fails when none comes within 3 s.
     */
    static long firstReplyMillis(String netns, String address) throws IOException {
        long start = System.nanoTime();
        exec(netns, "ping", "-c", "1", "-w", "3", "-i", "0.05", address);
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    void deleteNamespace(String name) throws IOException {
        Netns.delete(name);
        namespaces.remove(name);
    }

    @Override
    public void close() throws IOException {
        IOException failure = null;
        stopHub();
        for (String name : namespaces.reversed()) {
            try {
                if (Netns.exists(name)) {
                    Netns.delete(name);
                }
            } catch (IOException e) {
                failure = e;
            }
        }
        try (Stream<Path> s = Files.walk(dataDir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
