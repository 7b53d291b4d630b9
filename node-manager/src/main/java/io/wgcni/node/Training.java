package io.wgcni.node;

import io.wgcni.api.cluster.ClusterClient;
import io.wgcni.api.cluster.JoinToken;
import io.wgcni.api.node.Frames;
import io.wgcni.api.node.v1.CniRequest;
import io.wgcni.api.node.v1.CniResponse;
import io.wgcni.api.node.v1.StatusRequest;
import io.wgcni.node.attach.Attachments;
import io.wgcni.node.attach.NodeNetwork;
import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Hop;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.Superpackets;
import io.wgcni.tun.UdpBind;
import io.wgcni.wg.time.SystemClock;
import io.wgcni.wg.uapi.Uapi;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The training run behind node-manager's AOT cache ({@code bin/node-manager --train-aot FILE}): what a start
 * loads, without root or a cluster. The CLI, the node API on both sockets and a client of each, the
 * attachments' SQLite store, two WireGuard devices on loopback UDP through a handshake and a packet, the
 * metrics server, and a cluster join that finds nobody listening. A restarted node-manager then finds these
 * classes loaded and linked in the cache: its data path is back sooner (benchmarks/RESULTS.md section 6).
 */
final class Training {
    private Training() {}

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("wgcni-aot-training");
        try {
            run(dir);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
        System.exit(0); // gRPC's and Netty's threads would keep the JVM (and the cache's writing) waiting
    }

    private static void run(Path dir) throws Exception {
        NodeManager.commandLine(Map.of()).getSubcommands().get("run").getUsageMessage();

        try (Metrics metrics = new Metrics()) {
            metrics.serve(new InetSocketAddress("127.0.0.1", 0));
            NodeApi api = new NodeApi(metrics);
            try (GrpcServer grpc = GrpcServer.start(dir.resolve("node.sock"), api);
                    CniServer cni = CniServer.start(dir.resolve("cni.sock"), api)) {
                // The operator's client, as `node-manager status` runs it; the node is not ready: exit 3.
                NodeManager.commandLine(Map.of()).execute("status", "--socket", dir.resolve("node.sock").toString());
                try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("cni.sock")))) {
                    Frames.write(ch, CniRequest.newBuilder().setStatus(StatusRequest.getDefaultInstance()).build());
                    Frames.read(ch, CniResponse.parser());
                }
            }
        }

        Key keyA = X25519.generatePrivateKey();
        Key keyB = X25519.generatePrivateKey();
        MemoryTun tunA = new MemoryTun("train-a", 1420);
        MemoryTun tunB = new MemoryTun("train-b", 1420);
        try (Device a = new Device("train-a", tunA, new UdpBind(), SystemClock.INSTANCE, 1);
                Device b = new Device("train-b", tunB, new Hop.Hub(new UdpBind(), false), SystemClock.INSTANCE, 1)) {
            Uapi.set(b, List.of("private_key=" + keyB.toHex(), "listen_port=0",
                    "public_key=" + X25519.publicKey(keyA).toHex(), "allowed_ip=10.0.0.1/32"));
            b.up();
            Uapi.set(a, List.of("private_key=" + keyA.toHex(), "listen_port=0",
                    "public_key=" + X25519.publicKey(keyB).toHex(), "allowed_ip=10.0.0.2/32",
                    "endpoint=127.0.0.1:" + b.listenPort()));
            a.up();
            tunA.inject(ipv4Packet());
            tunB.poll(5_000);
            Uapi.get(a);

            // A container's device behind b's in-process hop: a handshake and a packet through it.
            Key keyS = X25519.generatePrivateKey();
            MemoryTun tunS = new MemoryTun("train-s", 1420);
            try (Device s = Device.withoutThreads("train-s", tunS, b.hop().newSpoke(), SystemClock.INSTANCE)) {
                s.setPrivateKey(keyS);
                var toHub = s.addPeer(b.identity().publicKey());
                toHub.setEndpoint(Hop.HUB);
                s.addAllowedIp(toHub, Prefix.parse("0.0.0.0/0"));
                b.addAllowedIp(b.addPeer(X25519.publicKey(keyS)), Prefix.parse("10.0.0.1/32"));
                s.up();
                tunS.inject(ipv4Packet());
                Packet[] buffers = {new Packet(new byte[Packet.SUPER_CAPACITY])};
                s.drainTun(buffers);
                tunB.poll(5_000);
            }

            // The attachments' store and bookkeeping, on the devices above as the hub (nothing is attached).
            NodeNetwork network = NodeNetwork.of(Prefix.parse("10.0.0.0/24"), null, 1420);
            try (Attachments attachments = new Attachments(dir.resolve("attachments"), network, b)) {
                attachments.reconcile();
                attachments.peers();
            }
        }

        // The join path up to the connection: nothing listens on port 1.
        JoinToken token = JoinToken.parse("abcdef.0123456789abcdef:sha256:" + "00".repeat(32));
        try {
            ClusterClient.join("127.0.0.1:1", token, "training", dir.resolve("credentials"));
        } catch (RuntimeException | IOException expected) {
            // UNAVAILABLE
        }
    }

    /** A minimal IPv4 packet from 10.0.0.1 to 10.0.0.2 (the devices route by the addresses only). */
    private static byte[] ipv4Packet() {
        try {
            return Superpackets.udp4((Inet4Address) InetAddress.getByName("10.0.0.1"),
                    (Inet4Address) InetAddress.getByName("10.0.0.2"), 28);
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e); // a literal address is never looked up
        }
    }
}
