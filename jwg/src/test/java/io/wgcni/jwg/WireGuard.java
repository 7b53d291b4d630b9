package io.wgcni.jwg;

import io.wgcni.wg.Skip;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One WireGuard interface under test, jwg or wireguard-go, in a namespace of a {@link VethPair}: started as a
 * real process, configured with the real {@code wg} tool and {@code ip}.
 */
final class WireGuard {
    /** jwg; Debian's wireguard-go (no offloads); the modern wireguard-go with all its offloads ({@link #MODERN}). */
    enum Impl { JWG, WIREGUARD_GO, MODERN }

    static final Path REPO = Path.of(System.getProperty("wgcni.root", "..")).toAbsolutePath().normalize();
    static final Path JWG = REPO.resolve("bin/jwg");
    /**
     * wireguard-go 0.0.20250522, built with TUN and UDP offloads, a peer nobody here wrote: where
     * {@code WGCNI_WIREGUARD_GO_MODERN} says, else in the workplace's {@code shared/bin} beside the clone.
     */
    static final Path MODERN = modern();

    private static Path modern() {
        String env = System.getenv("WGCNI_WIREGUARD_GO_MODERN");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        for (Path dir = REPO; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("shared/bin/wireguard-go-modern");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return Path.of("/work/shared/bin/wireguard-go-modern");
    }

    /** Skips the calling test, saying why, when {@code impl} cannot run here. */
    static void assumeAvailable(Impl... impls) {
        for (Impl impl : impls) {
            if (impl == Impl.MODERN) {
                // Not a Debian package: the workplace's benchmark peer (shared/bin/README.md), so a machine has it
                // or not.
                Skip.unless(Files.isExecutable(MODERN), Skip.Reason.PLATFORM,
                        "the modern wireguard-go is not at " + MODERN + " (set WGCNI_WIREGUARD_GO_MODERN)");
            }
        }
    }

    final VethPair net;
    final Impl impl;
    final String ns;
    final String iface;
    final Key privateKey = X25519.generatePrivateKey();
    final Key publicKey = X25519.publicKey(privateKey);
    final String inner4;
    final String inner6;
    final String outer4;
    final String outer6;
    final int port;
    final Path dir;

    WireGuard(VethPair net, Impl impl, boolean sideA, Path dir) {
        this.net = net;
        this.impl = impl;
        this.ns = sideA ? net.a : net.b;
        this.iface = net.iface((impl == Impl.JWG ? "j" : impl == Impl.MODERN ? "m" : "g") + (sideA ? "a" : "b"));
        this.inner4 = sideA ? "10.88.0.1" : "10.88.0.2";
        this.inner6 = sideA ? "fd88::1" : "fd88::2";
        this.outer4 = sideA ? "10.77.0.1" : "10.77.0.2";
        this.outer6 = sideA ? "fd77::1" : "fd77::2";
        this.port = sideA ? 51001 : 51002;
        this.dir = dir;
    }

    Path socket() {
        return Path.of("/var/run/wireguard", iface + ".sock");
    }

    /** Starts the daemon in the foreground (a child of the test) and waits for its UAPI socket. */
    WireGuard start() throws Exception {
        return start(Map.of());
    }

    /** As {@link #start()}, with {@code env} added to the daemon's environment (offload switches...). */
    WireGuard start(Map<String, String> env) throws Exception {
        Path log = dir.resolve(iface + ".log");
        String program = switch (impl) {
            case JWG -> JWG.toString();
            case WIREGUARD_GO -> "wireguard-go";
            case MODERN -> MODERN.toString();
        };
        net.start(ns, log, env, program, "-f", iface);
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!Files.exists(socket())) {
            if (System.nanoTime() > deadline) {
                throw new IOException(impl + " did not create " + socket() + ": " + Files.readString(log));
            }
            Thread.sleep(20);
        }
        return this;
    }

    Path keyFile(String name, Key key) throws IOException {
        Path f = dir.resolve(iface + "-" + name);
        Files.writeString(f, key.toBase64() + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    /**
     * Makes {@code peer} this interface's peer, routing its inner addresses; with {@code endpoint} this side
     * knows where the peer is and can initiate, without it this side can only respond.
     */
    WireGuard connect(WireGuard peer, boolean endpoint, Key psk, int keepalive, boolean outerV6) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("wg", "set", iface, "private-key",
            keyFile("private", privateKey).toString(), "listen-port", Integer.toString(port), "peer",
            peer.publicKey.toBase64(), "allowed-ips", peer.inner4 + "/32," + peer.inner6 + "/128"));
        if (endpoint) {
            cmd.addAll(List.of("endpoint",
                    outerV6 ? "[" + peer.outer6 + "]:" + peer.port : peer.outer4 + ":" + peer.port));
        }
        if (psk != null) {
            cmd.addAll(List.of("preshared-key", keyFile("psk", psk).toString()));
        }
        if (keepalive > 0) {
            cmd.addAll(List.of("persistent-keepalive", Integer.toString(keepalive)));
        }
        net.in(ns, cmd.toArray(String[]::new));
        net.in(ns, "ip", "addr", "add", inner4 + "/24", "dev", iface);
        net.in(ns, "ip", "addr", "add", inner6 + "/64", "dev", iface, "nodad");
        net.in(ns, "ip", "link", "set", iface, "up");
        return this;
    }

    /** jwg's counters (the UAPI's {@code stats=1}, our extension): drops by reason, cookie replies sent. */
    Map<String, Long> stats() throws IOException {
        String reply;
        try (var ch = SocketChannel.open(UnixDomainSocketAddress.of(socket()))) {
            ch.write(ByteBuffer.wrap("stats=1\n\n".getBytes(StandardCharsets.UTF_8)));
            ch.shutdownOutput();
            reply = new String(Channels.newInputStream(ch).readAllBytes(),
                    StandardCharsets.UTF_8);
        }
        Map<String, Long> stats = new LinkedHashMap<>();
        for (String line : reply.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0 && !line.startsWith("errno")) {
                stats.put(line.substring(0, eq), Long.parseLong(line.substring(eq + 1)));
            }
        }
        return stats;
    }

    String wg(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("wg"));
        cmd.addAll(List.of(args));
        return net.in(ns, cmd.toArray(String[]::new));
    }

    /** Pings until a reply comes, for up to {@code seconds} (a peer re-learning its route takes a moment). */
    void pingWithin(String address, int seconds) throws IOException {
        net.in(ns, "ping", "-c", "1", "-w", Integer.toString(seconds), "-i", "0.2", address);
    }

    /** Pings {@code address} from this side; throws with ping's output if nothing comes back. */
    void ping(String address) throws IOException {
        net.in(ns, "ping", "-c", "3", "-i", "0.2", "-W", "3", address);
    }
}
