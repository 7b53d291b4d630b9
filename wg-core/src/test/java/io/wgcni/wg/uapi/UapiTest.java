package io.wgcni.wg.uapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.crypto.Key;
import io.wgcni.wg.crypto.X25519;
import io.wgcni.wg.device.Device;
import io.wgcni.wg.device.Peer;
import io.wgcni.wg.device.Prefix;
import io.wgcni.wg.io.Endpoint;
import io.wgcni.wg.io.InetAddresses;
import io.wgcni.wg.io.MemoryNetwork;
import io.wgcni.wg.io.MemoryTun;
import io.wgcni.wg.time.ManualClock;
import java.io.BufferedReader;
import java.io.StringReader;
import java.io.StringWriter;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class UapiTest {
    private final MemoryNetwork network = new MemoryNetwork();
    private Device device;
    private final Key privateKey = X25519.generatePrivateKey();
    private final Key peer1 = X25519.publicKey(X25519.generatePrivateKey());
    private final Key peer2 = X25519.publicKey(X25519.generatePrivateKey());
    private final Key psk = X25519.generatePrivateKey();

    @BeforeEach
    void setUp() throws Exception {
        device = new Device("wgtest", new MemoryTun("wgtest", 1420), network.newBind(InetAddress.getByName("10.0.0.1")),
            new ManualClock(), 1);
        device.up();
    }

    @AfterEach
    void tearDown() {
        device.close();
    }

    private int set(String... lines) {
        return Uapi.set(device, Arrays.asList(lines));
    }

    private String fullConfig() {
        return String.join("\n",
            "private_key=" + privateKey.toHex(),
            "listen_port=51820",
            "fwmark=4294967295",
            "replace_peers=true",
            "public_key=" + peer1.toHex(),
            "preshared_key=" + psk.toHex(),
            "endpoint=192.0.2.1:51820",
            "persistent_keepalive_interval=25",
            "replace_allowed_ips=true",
            "allowed_ip=10.1.0.0/16",
            "allowed_ip=fd00::/64",
            "public_key=" + peer2.toHex(),
            "endpoint=[2001:db8::1]:1234",
            "protocol_version=1",
            "allowed_ip=10.2.0.0/24");
    }

    @Test
    void setThenGetRoundTripsEveryField() {
        assertEquals(0, set(fullConfig().split("\n")));
        String got = Uapi.get(device);
        assertTrue(got.startsWith("private_key=" + privateKey.toHex() + "\nlisten_port=51820\nfwmark=4294967295\n"),
                got);
        String p1 = section(got, peer1);
        assertTrue(p1.contains("preshared_key=" + psk.toHex() + "\n"), p1);
        assertTrue(p1.contains("protocol_version=1\n"));
        assertTrue(p1.contains("endpoint=192.0.2.1:51820\n"));
        assertTrue(p1.contains("last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"));
        assertTrue(p1.contains("tx_bytes="));
        assertTrue(p1.contains("rx_bytes="));
        assertTrue(p1.contains("persistent_keepalive_interval=25\n"));
        assertTrue(p1.contains("allowed_ip=10.1.0.0/16\n"));
        assertTrue(p1.contains("allowed_ip=fd00::/64\n"), p1);
        String p2 = section(got, peer2);
        assertTrue(p2.contains("endpoint=[2001:db8::1]:1234\n"), p2);
        assertTrue(p2.contains("preshared_key=" + Key.zero().toHex() + "\n"));
    }

    private static String section(String get, Key peer) {
        int start = get.indexOf("public_key=" + peer.toHex());
        assertTrue(start >= 0, "peer present");
        int end = get.indexOf("public_key=", start + 1);
        return get.substring(start, end < 0 ? get.length() : end);
    }

    @Test
    void serveSpeaksTheWireFormat() throws Exception {
        StringWriter out = new StringWriter();
        String request = "set=1\nprivate_key=" + privateKey.toHex() + "\nlisten_port=0\n\nget=1\n\n";
        Uapi.serve(device, new BufferedReader(new StringReader(request)), out);
        String reply = out.toString();
        assertTrue(reply.startsWith("errno=0\n\nprivate_key=" + privateKey.toHex() + "\nlisten_port="), reply);
        assertTrue(reply.endsWith("errno=0\n\n"), reply);
    }

    @Test
    void statsListsTheDropCounters() throws Exception {
        StringWriter out = new StringWriter();
        Uapi.serve(device, new BufferedReader(new StringReader("stats=1\n\n")), out);
        assertTrue(out.toString().startsWith("invalid_message=0\n"), out.toString());
        assertTrue(out.toString().contains("\nbad_mac1=0\n"));
        assertTrue(out.toString().endsWith("errno=0\n\n"));
    }

    @Test
    void unknownOperationClosesTheConnection() throws Exception {
        StringWriter out = new StringWriter();
        Uapi.serve(device, new BufferedReader(new StringReader("hello=1\nget=1\n\n")), out);
        assertEquals("", out.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "listen_port=65536", "listen_port=-1", "listen_port=x", "fwmark=4294967296", "private_key=00",
        "private_key=zz00000000000000000000000000000000000000000000000000000000000000", "replace_peers=false",
        "bogus=1", "public_key=123", "PEER persistent_keepalive_interval=70000", "PEER endpoint=nohost",
        "PEER endpoint=1.2.3.4", "PEER endpoint=example.com:51820", "PEER allowed_ip=10.0.0.0/33",
        "PEER allowed_ip=fd00::/129", "PEER allowed_ip=banana", "PEER protocol_version=2", "PEER remove=yes",
        "PEER update_only=1", "PEER replace_allowed_ips=false", "PEER unknown=1", "PEER preshared_key=abc",
        "PEER listen_port=1"})
    void badLinesAnswerEinvalAndChangeNothing(String bad) {
        assertEquals(0, set(fullConfig().split("\n")));
        String before = Uapi.get(device);
        String line = bad.replace("PEER ", "");
        String[] request = bad.startsWith("PEER ")
            ? new String[] {"listen_port=40000", "public_key=" + peer1.toHex(), "replace_allowed_ips=true",
                "allowed_ip=10.9.0.0/16", line}
            : new String[] {"listen_port=40000", "replace_peers=true", line};
        assertEquals(UapiException.EINVAL, set(request), bad);
        assertEquals(before, Uapi.get(device), "nothing changed after " + bad);
    }

    @Test
    void aLineWithoutEqualsIsAProtocolError() {
        assertEquals(UapiException.EPROTO, set("listen_port"));
    }

    @Test
    void aPortInUseAnswersEaddrinuse() throws Exception {
        try (Device other = new Device("other", new MemoryTun("other", 1420),
                network.newBind(InetAddress.getByName("10.0.0.1")), new ManualClock(), 1)) {
            other.setListenPort(41000);
            other.up();
            String before = Uapi.get(device);
            assertEquals(UapiException.EADDRINUSE, set("listen_port=41000", "replace_peers=true"));
            assertEquals(before, Uapi.get(device));
        }
    }

    @Test
    void peersAreUpdatedRemovedAndUpdateOnlyIsHonoured() {
        assertEquals(0, set(fullConfig().split("\n")));
        assertEquals(0, set("public_key=" + peer1.toHex(), "allowed_ip=10.3.0.0/16"));
        Peer p1 = device.peer(peer1);
        assertEquals(List.of(Prefix.parse("10.1.0.0/16"), Prefix.parse("10.3.0.0/16"), Prefix.parse("fd00::/64")),
            p1.allowedIps());
        assertEquals(0, set("public_key=" + peer1.toHex(), "replace_allowed_ips=true", "allowed_ip=10.4.0.0/16"));
        assertEquals(List.of(Prefix.parse("10.4.0.0/16")), p1.allowedIps());
        assertEquals(0, set("public_key=" + peer2.toHex(), "remove=true"));
        assertNull(device.peer(peer2));
        Key peer3 = X25519.publicKey(X25519.generatePrivateKey());
        assertEquals(0, set("public_key=" + peer3.toHex(), "update_only=true", "allowed_ip=10.5.0.0/16"));
        assertNull(device.peer(peer3), "update_only does not create");
        assertEquals(0, set("public_key=" + peer1.toHex(), "update_only=true", "endpoint=192.0.2.9:9"));
        assertEquals(new Endpoint(InetAddresses.parse("192.0.2.9"), 9), p1.endpoint());
        assertEquals(0, set("replace_peers=true"));
        assertTrue(device.peers().isEmpty());
    }

    @Test
    void aPeerWithTheDevicesOwnKeyIsIgnored() {
        assertEquals(0, set("private_key=" + privateKey.toHex(), "public_key=" + X25519.publicKey(privateKey).toHex(),
            "allowed_ip=10.0.0.0/8"));
        assertTrue(device.peers().isEmpty());
    }

    @Test
    void aZeroPrivateKeyRemovesIt() {
        assertEquals(0, set("private_key=" + privateKey.toHex()));
        assertNotNull(device.identity());
        assertEquals(0, set("private_key=" + Key.zero().toHex()));
        assertNull(device.identity());
        assertTrue(!Uapi.get(device).contains("private_key="));
    }

    @Test
    void aSetBeyondThePeerLimitChangesNothingAndSaysSo() {
        assertEquals(0, set("public_key=" + peer1.toHex(), "public_key=" + peer2.toHex()));
        int port = device.listenPort();
        List<String> lines = new java.util.ArrayList<>();
        lines.add("listen_port=" + (port + 1));
        java.util.Random random = new java.util.Random(15);
        for (int i = 0; i < Device.MAX_PEERS - 1; i++) {
            byte[] k = new byte[32];
            random.nextBytes(k);
            lines.add("public_key=" + Key.of(k).toHex());
        }
        // Two existing + 65,535 new: one too many.
        assertEquals(UapiException.ENOSPC, Uapi.set(device, lines));
        assertEquals(2, device.peers().size());
        assertEquals(port, device.listenPort(), "nothing applied");
        // With replace_peers the two old ones do not count, and 65,535 + 2 new is one too many again.
        List<String> replacing = withExtra(lines, 2);
        replacing.add(0, "replace_peers=true");
        assertEquals(UapiException.ENOSPC, Uapi.set(device, replacing));
        assertEquals(2, device.peers().size());
        assertEquals(port, device.listenPort(), "nothing applied");
    }

    private static List<String> withExtra(List<String> lines, int n) {
        List<String> out = new java.util.ArrayList<>(lines);
        for (int i = 0; i < n; i++) {
            byte[] k = new byte[32];
            java.util.Arrays.fill(k, (byte) (i + 1));
            out.add("public_key=" + Key.of(k).toHex());
        }
        return out;
    }

    @Test
    void aFwmarkThatCannotBeSetPutsTheListenPortBack() throws Exception {
        device.close();
        MemoryNetwork.MemoryBind inner = network.newBind(InetAddress.getByName("10.0.0.3"));
        io.wgcni.wg.io.Bind refusingMarks = new io.wgcni.wg.io.Bind() {
            @Override
            public int open(int port) throws java.io.IOException {
                return inner.open(port);
            }

            @Override
            public int receive(io.wgcni.wg.io.Packet[] packets, int max) throws java.io.IOException {
                return inner.receive(packets, max);
            }

            @Override
            public void send(io.wgcni.wg.io.Packet[] packets, int count, Endpoint to) throws java.io.IOException {
                inner.send(packets, count, to);
            }

            @Override
            public void setMark(int mark) throws java.io.IOException {
                if (mark != 0) {
                    throw new java.io.IOException("Operation not permitted"); // SO_MARK without CAP_NET_ADMIN
                }
            }

            @Override
            public void close() {
                inner.close();
            }
        };
        device = new Device("wgtest", new MemoryTun("wgtest", 1420), refusingMarks, new ManualClock(), 1);
        device.up();
        assertEquals(0, set("listen_port=41000"));
        assertEquals(UapiException.EIO, set("listen_port=42000", "fwmark=7", "public_key=" + peer1.toHex()));
        assertEquals(41000, device.listenPort());
        assertEquals(0, device.fwmark());
        assertEquals(0, device.peers().size());
    }

    @Test
    void overlongLinesAndRequestsAreAnsweredAndTheClientDisconnected() throws Exception {
        StringWriter out = new StringWriter();
        String longLine = "set=1\nendpoint=" + "1".repeat(Uapi.MAX_LINE) + "\n\nget=1\n\n";
        Uapi.serve(device, new BufferedReader(new StringReader(longLine)), out);
        assertEquals("errno=" + UapiException.EMSGSIZE + "\n\n", out.toString());
        StringBuilder many = new StringBuilder("set=1\n");
        for (int i = 0; i <= Uapi.MAX_SET_LINES; i++) {
            many.append("x=1\n");
        }
        many.append("\nget=1\n\n");
        out = new StringWriter();
        Uapi.serve(device, new BufferedReader(new StringReader(many.toString())), out);
        assertEquals("errno=" + UapiException.EMSGSIZE + "\n\n", out.toString());
        assertEquals(0, device.peers().size());
        // A line at the limit is still read (and refused for what it says).
        out = new StringWriter();
        Uapi.serve(device, new BufferedReader(new StringReader("set=1\nx=" + "1".repeat(Uapi.MAX_LINE - 2)
                + "\n\n")), out);
        assertEquals("errno=" + UapiException.EINVAL + "\n\n", out.toString());
    }
}
