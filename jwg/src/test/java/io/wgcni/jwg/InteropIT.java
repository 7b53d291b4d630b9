package io.wgcni.jwg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.jwg.WireGuard.Impl;
import io.wgcni.tun.Root;
import io.wgcni.tun.TcpTransfer;
import io.wgcni.wg.crypto.X25519;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * jwg against wireguard-go (Debian's, written by other people; the modern one, with its TUN and UDP offloads) and
 * against itself, in two namespaces over a veth
 * pair: each side once as initiator and once as responder, IPv4 and IPv6 inside and outside the tunnel, a
 * preshared key, persistent keepalives, a roaming peer, and a 200 MB TCP transfer whose digest must match.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class InteropIT {
    private static final long TRANSFER = 200L << 20;

    @TempDir
    Path dir;

    // Each test skips by itself: a skip in @BeforeAll would drop the tests and the reason from the reports.
    @BeforeEach
    void requirements() {
        Root.assumeTunAvailable();
        Root.assumeCommands("wg", "wireguard-go", "ping");
    }

    @ParameterizedTest(name = "{0} initiates to {1}, outer IPv6 {2}")
    @CsvSource({"JWG, WIREGUARD_GO, false", "WIREGUARD_GO, JWG, false", "JWG, JWG, false", "JWG, WIREGUARD_GO, true",
        "WIREGUARD_GO, JWG, true", "JWG, MODERN, false", "MODERN, JWG, false", "MODERN, JWG, true"})
    void handshakePingAndTransfer(Impl initiatorImpl, Impl responderImpl, boolean outerV6) throws Exception {
        WireGuard.assumeAvailable(initiatorImpl, responderImpl);
        try (VethPair net = new VethPair()) {
            WireGuard initiator = new WireGuard(net, initiatorImpl, true, dir).start();
            WireGuard responder = new WireGuard(net, responderImpl, false, dir).start();
            initiator.connect(responder, true, null, 0, outerV6);
            responder.connect(initiator, false, null, 0, outerV6);

            initiator.ping(responder.inner4);
            responder.ping(initiator.inner4);
            initiator.ping(responder.inner6);
            responder.ping(initiator.inner6);
            String endpoint = responder.wg("show", responder.iface, "endpoints");
            assertTrue(endpoint.contains(outerV6 ? "[" + initiator.outer6 + "]:" + initiator.port
                : initiator.outer4 + ":" + initiator.port),
                "the responder learned the initiator's endpoint: " + endpoint);

            TcpTransfer.Result r = TcpTransfer.run(initiator.ns, responder.ns, responder.inner4, TRANSFER);
            assertEquals(r.sent(), r.received(), "200 MB arrive intact");
            System.out.printf("%s -> %s: %.0f Mbit/s%n", initiatorImpl, responderImpl, r.megabitsPerSecond());
            TcpTransfer.Result back = TcpTransfer.run(responder.ns, initiator.ns, initiator.inner6, TRANSFER / 4);
            assertEquals(back.sent(), back.received(), "and back over IPv6");
            String handshake = initiator.wg("show", initiator.iface, "latest-handshakes");
            assertTrue(!handshake.strip().endsWith("\t0"), "wg show reports the handshake: " + handshake);
        }
    }

    @ParameterizedTest(name = "{0} and {1}")
    @CsvSource({"JWG, WIREGUARD_GO", "WIREGUARD_GO, JWG", "JWG, JWG"})
    void presharedKeyAndPersistentKeepalive(Impl aImpl, Impl bImpl) throws Exception {
        try (VethPair net = new VethPair()) {
            WireGuard a = new WireGuard(net, aImpl, true, dir).start();
            WireGuard b = new WireGuard(net, bImpl, false, dir).start();
            var psk = X25519.generatePrivateKey();
            a.connect(b, true, psk, 1, false);
            b.connect(a, false, psk, 0, false);
            // Nothing is sent by anyone but the keepalive: it alone must bring up the session.
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (b.wg("show", b.iface, "latest-handshakes").strip().endsWith("\t0") && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            long rx1 = Long.parseLong(b.wg("show", b.iface, "transfer").strip().split("\t")[1]);
            Thread.sleep(2_500);
            long rx2 = Long.parseLong(b.wg("show", b.iface, "transfer").strip().split("\t")[1]);
            assertTrue(rx2 >= rx1 + 64, "keepalives every second: " + rx1 + " -> " + rx2);
            a.ping(b.inner4);
            b.ping(a.inner4);
        }
    }

    @ParameterizedTest(name = "{0} follows {1} when it roams")
    @CsvSource({"JWG, WIREGUARD_GO", "WIREGUARD_GO, JWG", "JWG, JWG"})
    void roamingPeer(Impl stayImpl, Impl roamImpl) throws Exception {
        try (VethPair net = new VethPair()) {
            WireGuard stay = new WireGuard(net, stayImpl, true, dir).start();
            WireGuard roam = new WireGuard(net, roamImpl, false, dir).start();
            stay.connect(roam, true, null, 0, false);
            roam.connect(stay, true, null, 0, false);
            roam.ping(stay.inner4);
            // The roaming side gets a new address and sends from it from now on.
            String veth = "veth-" + net.tag + "b";
            // (Deleting a primary address takes its secondaries along, so the old one goes first.)
            net.in(roam.ns, "ip", "addr", "del", roam.outer4 + "/24", "dev", veth);
            net.in(roam.ns, "ip", "addr", "add", "10.77.0.12/24", "dev", veth);
            // wireguard-go keeps sending from the address it last used until a handshake retry clears it.
            roam.pingWithin(stay.inner4, 20);
            String endpoints = stay.wg("show", stay.iface, "endpoints");
            assertTrue(endpoints.contains("10.77.0.12:" + roam.port), "endpoint followed the peer: " + endpoints);
            stay.ping(roam.inner4);
        }
    }
}
