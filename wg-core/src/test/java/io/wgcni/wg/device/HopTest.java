package io.wgcni.wg.device;

import static io.wgcni.wg.device.IpPackets.ip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.io.Packet;
import io.wgcni.wg.ip.Checksum;
import io.wgcni.wg.ip.IpHeader;
import io.wgcni.wg.ip.Superpackets;
import io.wgcni.wg.noise.Protocol;
import io.wgcni.wg.time.ManualClock;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The in-process hop ({@link Hop}): a hub (wg0) and spokes (containers' devices) with real handshakes, sealed or
 * not, the hub's source check, superpackets crossing whole, and forwarding from peer to peer inside the hub.
 */
class HopTest {
    private final ManualClock clock = new ManualClock();
    private final MemoryNetwork network = new MemoryNetwork();
    private final List<AutoCloseable> closing = new ArrayList<>();
    private Device hub;
    private MemoryTun hubTun;
    private Hop.Hub hubBind;
    private final Packet[] buffers = buffers();

    private static Packet[] buffers() {
        Packet[] ps = new Packet[32];
        for (int i = 0; i < ps.length; i++) {
            ps[i] = new Packet(new byte[Packet.SUPER_CAPACITY]);
        }
        return ps;
    }

    /** A container: a device without threads behind the hub, owning {@code address}/32. */
    private record Spoke(Device device, MemoryTun tun, InetAddress address, Key publicKey) {}

    private void hub(boolean sealed) throws IOException {
        hubTun = new MemoryTun("wg0", 1420, Integer.MAX_VALUE, true);
        hubBind = new Hop.Hub(network.newBind(ip("10.0.0.1")), sealed);
        hub = new Device("wg0", hubTun, hubBind, clock, 1);
        hub.setPrivateKey(X25519.generatePrivateKey());
        hub.setListenPort(51820);
        hub.up();
        closing.add(hub);
    }

    private Spoke spoke(InetAddress address) throws IOException {
        MemoryTun tun = new MemoryTun("c" + address.getAddress()[3], 1420, Integer.MAX_VALUE, true);
        Device d = Device.withoutThreads("c-" + address.getHostAddress(), tun, hubBind.newSpoke(), clock);
        Key key = X25519.generatePrivateKey();
        d.setPrivateKey(key);
        Peer toHub = d.addPeer(hub.identity().publicKey());
        toHub.setEndpoint(Hop.HUB);
        d.addAllowedIp(toHub, Prefix.parse("0.0.0.0/0"));
        Key pub = X25519.publicKey(key);
        Peer atHub = hub.addPeer(pub);
        hub.addAllowedIp(atHub, new Prefix(address, 32));
        d.up();
        closing.add(d);
        return new Spoke(d, tun, address, pub);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing.reversed()) {
            c.close();
        }
    }

    /** What the test's "poller" does: reads the spoke's TUN and sends it on this thread. */
    private void drain(Spoke s) {
        assertTrue(s.device().drainTun(buffers));
    }

    /** An IPv4 UDP packet with a valid header checksum and TTL {@code ttl}. */
    private static byte[] udp(InetAddress src, InetAddress dst, int seq, int ttl) {
        byte[] p = IpPackets.packet(src, dst, seq, 64);
        p[IpHeader.V4_TTL] = (byte) ttl;
        Checksum.setIpv4Header(p, 0, 20);
        return p;
    }

    /** Sends until the hub has a session with the spoke (the first packet starts the handshake over the hop). */
    private byte[] firstAtHub(Spoke s, byte[] packet) throws Exception {
        s.tun().inject(packet);
        drain(s);
        byte[] got = hubTun.poll(5_000);
        assertNotNull(got, "the first packet arrives once the handshake over the hop is done");
        return got;
    }

    @ParameterizedTest(name = "sealed={0}")
    @ValueSource(booleans = {false, true})
    void aSpokeReachesTheHubWithARealHandshakeAndCountedBytes(boolean sealed) throws Exception {
        hub(sealed);
        Spoke c = spoke(ip("10.100.1.2"));
        byte[] packet = udp(c.address(), ip("10.100.1.1"), 1, 64);
        assertArrayEquals(packet, firstAtHub(c, packet));

        Peer atHub = hub.peer(c.publicKey());
        assertNotNull(atHub.currentKeypair(), "a real handshake, a real session");
        assertEquals(Hop.isHopEndpoint(atHub.endpoint()), true, "the hub learned the spoke's hop endpoint");
        assertTrue(atHub.rxBytes() > 0 && atHub.txBytes() > 0);

        // And back: the hub's TUN hands a packet for the container to the hub, which hands it to the spoke.
        byte[] reply = udp(ip("10.100.1.1"), c.address(), 2, 64);
        long txBefore = atHub.txBytes();
        hubTun.inject(reply);
        assertArrayEquals(reply, c.tun().poll(5_000));
        assertTrue(atHub.txBytes() > txBefore, "counted by the time it arrived: the hop delivers inline");
        assertEquals(0, hub.stats().receiveDrops());
        assertEquals(0, c.device().stats().receiveDrops());
    }

    @ParameterizedTest(name = "sealed={0}")
    @ValueSource(booleans = {false, true})
    void aForgedSourceIsDroppedAndCounted(boolean sealed) throws Exception {
        hub(sealed);
        Spoke c = spoke(ip("10.100.1.2"));
        firstAtHub(c, udp(c.address(), ip("10.100.1.1"), 1, 64));
        c.tun().inject(udp(ip("10.100.1.3"), ip("10.100.1.1"), 2, 64)); // another container's address
        drain(c);
        assertNull(hubTun.poll(200));
        assertEquals(1, hub.stats().disallowedSource.sum());
    }

    @ParameterizedTest(name = "sealed={0}")
    @ValueSource(booleans = {false, true})
    void forwardingPassesPacketsBetweenSpokesWithTheTtlDecremented(boolean sealed) throws Exception {
        hub(sealed);
        hub.setForwarding(true);
        Spoke a = spoke(ip("10.100.1.2"));
        Spoke b = spoke(ip("10.100.1.3"));
        firstAtHub(a, udp(a.address(), ip("10.100.1.1"), 1, 64));
        firstAtHub(b, udp(b.address(), ip("10.100.1.1"), 1, 64));

        byte[] toB = udp(a.address(), b.address(), 7, 64);
        a.tun().inject(toB);
        drain(a);
        byte[] got = b.tun().poll(5_000);
        assertNotNull(got);
        assertEquals(63, got[IpHeader.V4_TTL] & 0xff);
        byte[] expected = udp(a.address(), b.address(), 7, 63);
        assertArrayEquals(expected, got, "TTL decremented, header checksum updated to what a full sum gives");
        assertNull(hubTun.poll(100), "not through the kernel");
        assertEquals(1, hub.stats().forwarded());

        // A TTL that runs out here goes to the kernel, which answers with its ICMP error.
        a.tun().inject(udp(a.address(), b.address(), 8, 1));
        drain(a);
        assertNotNull(hubTun.poll(5_000));
        assertNull(b.tun().poll(100));
    }

    @ParameterizedTest(name = "forwarding={0}")
    @ValueSource(booleans = {false, true})
    void withoutForwardingEverythingGoesToTheKernel(boolean forwarding) throws Exception {
        hub(false);
        hub.setForwarding(forwarding);
        Spoke a = spoke(ip("10.100.1.2"));
        Spoke b = spoke(ip("10.100.1.3"));
        firstAtHub(a, udp(a.address(), ip("10.100.1.1"), 1, 64));
        firstAtHub(b, udp(b.address(), ip("10.100.1.1"), 1, 64));
        a.tun().inject(udp(a.address(), b.address(), 7, 64));
        drain(a);
        if (forwarding) {
            assertNotNull(b.tun().poll(5_000));
            assertNull(hubTun.poll(100));
        } else {
            assertNotNull(hubTun.poll(5_000), "the kernel forwards it (and its netfilter sees it)");
            assertNull(b.tun().poll(100));
        }
    }

    @ParameterizedTest(name = "sealed={0}")
    @ValueSource(booleans = {false, true})
    void aSuperpacketCrossesTheHopsWhole(boolean sealed) throws Exception {
        hub(sealed);
        hub.setForwarding(true);
        Spoke a = spoke(ip("10.100.1.2"));
        Spoke b = spoke(ip("10.100.1.3"));
        firstAtHub(a, udp(a.address(), ip("10.100.1.1"), 1, 64));
        firstAtHub(b, udp(b.address(), ip("10.100.1.1"), 1, 64));

        byte[] payload = new byte[60_000];
        Arrays.fill(payload, (byte) 0x5a);
        Packet sp = Superpackets.tcp4((Inet4Address) a.address(), (Inet4Address) b.address(), payload, 1380);
        a.tun().inject(sp);
        drain(a);
        Packet got = b.tun().pollPacket(5_000);
        assertNotNull(got);
        assertEquals(Packet.GSO_TCP4, got.gso, "one superpacket, cut nowhere on the way");
        assertEquals(sp.length, got.length);
        assertEquals(1380, got.gsoSize);
        assertNull(b.tun().pollPacket(100));
    }

    @ParameterizedTest(name = "sealed={0}")
    @ValueSource(booleans = {false, true})
    void aSuperpacketForTheWireIsCutThereAndSealed(boolean sealed) throws Exception {
        hub(sealed);
        hub.setForwarding(true);
        Spoke a = spoke(ip("10.100.1.2"));
        firstAtHub(a, udp(a.address(), ip("10.100.1.1"), 1, 64));

        // A remote node behind the hub's socket, routing 10.100.2.0/24.
        MemoryTun remoteTun = new MemoryTun("wg-remote", 1420, Integer.MAX_VALUE, true);
        Device remote = new Device("remote", remoteTun, network.newBind(ip("10.0.0.2")), clock, 1);
        closing.add(remote);
        remote.setPrivateKey(X25519.generatePrivateKey());
        remote.setListenPort(51820);
        remote.up();
        Peer toRemote = hub.addPeer(remote.identity().publicKey());
        toRemote.setEndpoint(new io.wgcni.wg.io.Endpoint(ip("10.0.0.2"), 51820));
        hub.addAllowedIp(toRemote, Prefix.parse("10.100.2.0/24"));
        Peer toHub = remote.addPeer(hub.identity().publicKey());
        toHub.setEndpoint(new io.wgcni.wg.io.Endpoint(ip("10.0.0.1"), 51820));
        remote.addAllowedIp(toHub, Prefix.parse("10.100.1.0/24"));

        byte[] payload = new byte[20_000];
        Packet sp = Superpackets.tcp4((Inet4Address) a.address(), (Inet4Address) ip("10.100.2.2"), payload, 1380);
        a.tun().inject(sp);
        drain(a);
        // Sealed for the wire datagram by datagram, none larger than the MTU allows, coalesced again at the remote.
        long bytes = 0;
        for (Packet p; (p = remoteTun.pollPacket(5_000)) != null && bytes < payload.length; ) {
            bytes += p.length - 40;
        }
        assertEquals(payload.length, bytes);
        assertEquals(0, remote.stats().receiveDrops());
        assertEquals(0, remote.stats().oversized.sum());
    }

    @ParameterizedTest(name = "sealed={0}")
    @ValueSource(booleans = {false, true})
    void nothingFromTheSocketIsTakenUnsealed(boolean sealed) throws Exception {
        hub(sealed);
        Spoke c = spoke(ip("10.100.1.2"));
        firstAtHub(c, udp(c.address(), ip("10.100.1.1"), 1, 64));
        // An attacker on the wire who learnt the spoke's session index sends a plain "data message" with it.
        int index = hub.peer(c.publicKey()).currentKeypair().localIndex();
        byte[] inner = udp(c.address(), ip("10.100.1.1"), 99, 64);
        byte[] msg = new byte[Protocol.Data.HEADER_SIZE + inner.length + Protocol.TAG_LENGTH];
        Protocol.putInt(msg, 0, Protocol.TYPE_DATA);
        Protocol.putInt(msg, Protocol.Data.RECEIVER, index);
        Protocol.putLong(msg, Protocol.Data.COUNTER, 1_000);
        System.arraycopy(inner, 0, msg, Protocol.Data.HEADER_SIZE, inner.length);
        network.inject(msg, new io.wgcni.wg.io.Endpoint(ip("10.0.0.9"), 4000),
                new io.wgcni.wg.io.Endpoint(ip("10.0.0.1"), 51820));
        assertTrue(Harness.eventually(() -> hub.stats().badTag.sum() == 1));
        assertNull(hubTun.poll(100));
    }

    @ParameterizedTest(name = "sealed={0}")
    @ValueSource(booleans = {false, true})
    void aClosedSpokeIsNotReachedAndTheHubCountsIt(boolean sealed) throws Exception {
        hub(sealed);
        Spoke c = spoke(ip("10.100.1.2"));
        firstAtHub(c, udp(c.address(), ip("10.100.1.1"), 1, 64));
        assertEquals(1, hubBind.spokes());
        c.device().close();
        assertEquals(0, hubBind.spokes());
        hubTun.inject(udp(ip("10.100.1.1"), c.address(), 2, 64));
        assertTrue(Harness.eventually(() -> hubBind.drops().get("hop_no_spoke") == 1));
        assertTrue(!c.device().drainTun(buffers), "a closed device tells its poller to stop");
    }
}
