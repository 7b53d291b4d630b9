package io.wgcni.jwg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.jwg.WireGuard.Impl;
import io.wgcni.tun.Netns;
import io.wgcni.tun.Root;
import io.wgcni.wg.crypto.X25519;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** jwg as wg and wg-quick drive it: configuration round trips, lifecycle, and garbage on its port. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class JwgIT {
    @TempDir
    Path dir;

    // Each test skips by itself: a skip in @BeforeAll would drop the tests and the reason from the reports.
    @BeforeEach
    void requirements() {
        Root.assumeTunAvailable();
        Root.assumeCommands("wg", "wg-quick", "wireguard-go", "ping");
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(50);
        }
    }

    @Test
    void everyFieldRoundTripsThroughWgSetconfAndShowconf() throws Exception {
        try (VethPair net = new VethPair()) {
            WireGuard j = new WireGuard(net, Impl.JWG, true, dir).start();
            String peer1 = X25519.publicKey(X25519.generatePrivateKey()).toBase64();
            String peer2 = X25519.publicKey(X25519.generatePrivateKey()).toBase64();
            String psk = X25519.generatePrivateKey().toBase64();
            String conf = String.join("\n",
                "[Interface]",
                "PrivateKey = " + j.privateKey.toBase64(),
                "ListenPort = 51820",
                "FwMark = 0x1234",
                "",
                "[Peer]",
                "PublicKey = " + peer1,
                "PresharedKey = " + psk,
                "AllowedIPs = 10.1.0.0/16, fd00::/64",
                "Endpoint = 10.77.0.2:51820",
                "PersistentKeepalive = 25",
                "",
                "[Peer]",
                "PublicKey = " + peer2,
                "AllowedIPs = 10.2.0.0/24",
                "Endpoint = [fd77::2]:1234",
                "");
            Path file = dir.resolve("wg.conf");
            Files.writeString(file, conf);
            j.wg("setconf", j.iface, file.toString());
            String shown = j.wg("showconf", j.iface);
            for (String line : new String[] {"PrivateKey = " + j.privateKey.toBase64(), "ListenPort = 51820",
                "FwMark = 0x1234", "PublicKey = " + peer1, "PresharedKey = " + psk,
                "AllowedIPs = 10.1.0.0/16, fd00::/64", "Endpoint = 10.77.0.2:51820", "PersistentKeepalive = 25",
                "PublicKey = " + peer2, "AllowedIPs = 10.2.0.0/24", "Endpoint = [fd77::2]:1234"}) {
                assertTrue(shown.contains(line + "\n"), "showconf has '" + line + "':\n" + shown);
            }
            j.wg("set", j.iface, "listen-port", "51821", "peer", peer2, "remove");
            j.wg("set", j.iface, "peer", peer1, "allowed-ips", "10.9.0.0/16", "persistent-keepalive", "off");
            assertEquals(j.publicKey.toBase64() + "\n", j.wg("show", j.iface, "public-key"));
            assertEquals("51821\n", j.wg("show", j.iface, "listen-port"));
            assertEquals(peer1 + "\t10.9.0.0/16\n", j.wg("show", j.iface, "allowed-ips"));
            assertEquals(peer1 + "\toff\n", j.wg("show", j.iface, "persistent-keepalive"));
            assertTrue(j.wg("show", j.iface).contains("peer: " + peer1));
            // A bad line is refused by jwg with errno=22 and changes nothing (wg checks most input before
            // sending it, so this speaks the UAPI directly).
            String reply = uapi(j, "set=1\nlisten_port=51822\npublic_key="
                + io.wgcni.wg.crypto.Key.fromBase64(peer1).toHex() + "\nendpoint=10.77.0.2:99999\n\n");
            assertEquals("errno=22\n\n", reply);
            assertEquals("51821\n", j.wg("show", j.iface, "listen-port"));
        }
    }

    @Test
    void wgQuickUpAndDownLeaveNothingBehind() throws Exception {
        try (VethPair net = new VethPair()) {
            String iface = net.iface("q");
            // Brief form: an IPv6 link-local address still "tentative" (DAD running) is the same address later.
            String before = net.in(net.a, "ip", "-br", "addr") + net.in(net.a, "ip", "route")
                    + net.in(net.a, "ip", "-6", "route");
            String key = X25519.generatePrivateKey().toBase64();
            String peer = X25519.publicKey(X25519.generatePrivateKey()).toBase64();
            Path conf = dir.resolve(iface + ".conf");
            Files.writeString(conf, String.join("\n", "[Interface]", "PrivateKey = " + key,
                "Address = 10.55.0.1/24, fd55::1/64", "ListenPort = 51830", "MTU = 1380", "", "[Peer]",
                "PublicKey = " + peer, "AllowedIPs = 10.56.0.0/16", "Endpoint = 10.77.0.2:51830", ""));
            Files.setPosixFilePermissions(conf, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            ProcessBuilder up = new ProcessBuilder("ip", "netns", "exec", net.a, "wg-quick", "up", conf.toString())
                .redirectErrorStream(true);
            up.environment().put("WG_QUICK_USERSPACE_IMPLEMENTATION", WireGuard.JWG.toString());
            up.environment().put("PATH", System.getenv("PATH"));
            Process p = up.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), "wg-quick up:\n" + out);
            assertTrue(net.in(net.a, "ip", "addr", "show", iface).contains("10.55.0.1/24"));
            assertTrue(net.in(net.a, "ip", "link", "show", iface).contains("mtu 1380"));
            assertTrue(net.in(net.a, "ip", "route").contains("10.56.0.0/16 dev " + iface));
            assertTrue(net.in(net.a, "wg", "show", iface, "peers").contains(peer));

            ProcessBuilder down = new ProcessBuilder("ip", "netns", "exec", net.a, "wg-quick", "down", conf.toString())
                .redirectErrorStream(true);
            Process d = down.start();
            String downOut = new String(d.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, d.waitFor(), "wg-quick down:\n" + downOut);
            Path socket = Path.of("/var/run/wireguard", iface + ".sock");
            await("jwg has exited and removed its socket", () -> !Files.exists(socket));
            assertFalse(net.in(net.a, "ip", "link").contains(iface));
            String after = net.in(net.a, "ip", "-br", "addr") + net.in(net.a, "ip", "route")
                    + net.in(net.a, "ip", "-6", "route");
            assertEquals(before, after, "addresses and routes as before");
            await("no jwg process for " + iface + " is left", () -> ProcessHandle.allProcesses()
                .noneMatch(h -> h.info().commandLine().orElse("").contains(Jwg.class.getName() + " " + iface)));
        }
    }

    @Test
    void stopsWhenItsSocketOrItsLinkIsDeleted() throws Exception {
        try (VethPair net = new VethPair()) {
            WireGuard bySocket = new WireGuard(net, Impl.JWG, true, dir).start();
            Files.delete(bySocket.socket());
            await("jwg noticed its socket is gone and removed the link",
                () -> !linkExists(net, net.a, bySocket.iface));
            WireGuard byLink = new WireGuard(net, Impl.JWG, false, dir).start();
            net.in(net.b, "ip", "link", "del", byLink.iface);
            await("jwg noticed its link is gone and removed its socket", () -> !Files.exists(byLink.socket()));
        }
    }

    @Test
    void sigtermRemovesTheInterfaceAndTheSocket() throws Exception {
        try (VethPair net = new VethPair()) {
            // The background launch, as wg-quick uses it: jwg returns once the interface is ready.
            String iface = net.iface("s");
            net.in(net.a, WireGuard.JWG.toString(), iface);
            Path socket = Path.of("/var/run/wireguard", iface + ".sock");
            assertTrue(Files.exists(socket), "ready when the launcher returns");
            assertTrue(linkExists(net, net.a, iface));
            ProcessHandle daemon = ProcessHandle.allProcesses()
                .filter(h -> h.info().commandLine().orElse("").contains(Jwg.class.getName() + " " + iface))
                .findFirst().orElseThrow();
            daemon.destroy(); // SIGTERM
            await("the daemon exited", () -> !daemon.isAlive());
            assertFalse(Files.exists(socket));
            assertFalse(linkExists(net, net.a, iface));
        }
    }

    @Test
    void garbageOnTheWireIsDroppedAndCountedAndTheTunnelKeepsWorking() throws Exception {
        try (VethPair net = new VethPair()) {
            WireGuard a = new WireGuard(net, Impl.JWG, true, dir).start();
            WireGuard b = new WireGuard(net, Impl.JWG, false, dir).start();
            a.connect(b, true, null, 0, false);
            b.connect(a, false, null, 0, false);
            a.ping(b.inner4);
            Random random = new Random(1);
            int sent = 0;
            try (DatagramSocket s = Netns.inNamespace(b.ns, DatagramSocket::new)) {
                InetAddress target = InetAddress.getByName(a.outer4);
                for (int i = 0; i < 2_000; i++, sent++) {
                    byte[] junk = new byte[random.nextInt(200)];
                    random.nextBytes(junk);
                    if (i % 2 == 1 && junk.length > 4) {
                        junk[0] = (byte) (1 + random.nextInt(4)); // a WireGuard type, then nonsense or a short message
                        junk[1] = junk[2] = junk[3] = 0;
                    }
                    s.send(new DatagramPacket(junk, junk.length, target, a.port));
                }
            }
            int expected = sent;
            await("every datagram is counted as a drop", () -> dropped(a) >= expected);
            a.ping(b.inner4);
            b.ping(a.inner4);
        }
    }

    private static String uapi(WireGuard w, String request) throws java.io.IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(w.socket()))) {
            ch.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.UTF_8)));
            ch.shutdownOutput();
            return new String(Channels.newInputStream(ch).readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static long dropped(WireGuard w) {
        try {
            Map<String, Long> stats = w.stats();
            return stats.getOrDefault("invalid_message", 0L) + stats.getOrDefault("bad_mac1", 0L)
                + stats.getOrDefault("bad_handshake", 0L) + stats.getOrDefault("unknown_index", 0L)
                + stats.getOrDefault("bad_tag", 0L);
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    private static boolean linkExists(VethPair net, String ns, String iface) {
        try {
            net.in(ns, "ip", "link", "show", iface);
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
