package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AllowedIpsTest {

    /** A peer: the table compares peers by identity, and a name makes failures readable. */
    record Peer(String name) {}

    private final AllowedIps<Peer> t = new AllowedIps<>();
    private final Peer a = new Peer("a");
    private final Peer b = new Peer("b");
    private final Peer c = new Peer("c");
    private final Peer d = new Peer("d");
    private final Peer e = new Peer("e");
    private final Peer f = new Peer("f");
    private final Peer g = new Peer("g");
    private final Peer h = new Peer("h");

    // ---- the kernel's selftest/allowedips.c, case by case ----

    private void insertKernelRoutes() {
        insert4(a, 192, 168, 4, 0, 24);
        insert4(b, 192, 168, 4, 4, 32);
        insert4(c, 192, 168, 0, 0, 16);
        insert4(d, 192, 95, 5, 64, 27);
        insert4(c, 192, 95, 5, 65, 27); // replaces the previous entry, and must be masked
        insert6(d, 0x26075300, 0x60006b00, 0, 0xc05f0543, 128);
        insert6(c, 0x26075300, 0x60006b00, 0, 0, 64);
        insert4(e, 0, 0, 0, 0, 0);
        insert6(e, 0, 0, 0, 0, 0);
        insert6(f, 0, 0, 0, 0, 0); // replaces the previous entry
        insert6(g, 0x24046800, 0, 0, 0, 32);
        insert6(h, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef, 64); // must be masked
        insert6(a, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef, 128);
        insert6(c, 0x24446800, 0x40e40800, 0xdeaebeef, 0x0defbeef, 128);
        insert6(b, 0x24446800, 0xf0e40800, 0xeeaebeef, 0, 98);
        insert4(g, 64, 15, 112, 0, 20);
        insert4(h, 64, 15, 123, 211, 25); // must be masked
        insert4(a, 10, 0, 0, 0, 25);
        insert4(b, 10, 0, 0, 128, 25);
        insert4(a, 10, 1, 0, 0, 30);
        insert4(b, 10, 1, 0, 4, 30);
        insert4(c, 10, 1, 0, 8, 29);
        insert4(d, 10, 1, 0, 16, 29);
    }

    @Test
    void kernelSelftestLookups() {
        insertKernelRoutes();
        assertSame(a, lookup(ip4(192, 168, 4, 20)));
        assertSame(a, lookup(ip4(192, 168, 4, 0)));
        assertSame(b, lookup(ip4(192, 168, 4, 4)));
        assertSame(c, lookup(ip4(192, 168, 200, 182)));
        assertSame(c, lookup(ip4(192, 95, 5, 68)));
        assertSame(e, lookup(ip4(192, 95, 5, 96)));
        assertSame(d, lookup(ip6(0x26075300, 0x60006b00, 0, 0xc05f0543)));
        assertSame(c, lookup(ip6(0x26075300, 0x60006b00, 0, 0xc02e01ee)));
        assertSame(f, lookup(ip6(0x26075300, 0x60006b01, 0, 0)));
        assertSame(g, lookup(ip6(0x24046800, 0x40040806, 0, 0x1006)));
        assertSame(g, lookup(ip6(0x24046800, 0x40040806, 0x1234, 0x5678)));
        assertSame(f, lookup(ip6(0x240467ff, 0x40040806, 0x1234, 0x5678)));
        assertSame(f, lookup(ip6(0x24046801, 0x40040806, 0x1234, 0x5678)));
        assertSame(h, lookup(ip6(0x24046800, 0x40040800, 0x1234, 0x5678)));
        assertSame(h, lookup(ip6(0x24046800, 0x40040800, 0, 0)));
        assertSame(h, lookup(ip6(0x24046800, 0x40040800, 0x10101010, 0x10101010)));
        assertSame(a, lookup(ip6(0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef)));
        assertSame(g, lookup(ip4(64, 15, 116, 26)));
        assertSame(g, lookup(ip4(64, 15, 127, 3)));
        assertSame(g, lookup(ip4(64, 15, 123, 1)));
        assertSame(h, lookup(ip4(64, 15, 123, 128)));
        assertSame(h, lookup(ip4(64, 15, 123, 129)));
        assertSame(a, lookup(ip4(10, 0, 0, 52)));
        assertSame(b, lookup(ip4(10, 0, 0, 220)));
        assertSame(a, lookup(ip4(10, 1, 0, 2)));
        assertSame(b, lookup(ip4(10, 1, 0, 6)));
        assertSame(c, lookup(ip4(10, 1, 0, 10)));
        assertSame(d, lookup(ip4(10, 1, 0, 20)));
        assertEquals(21, t.size()); // 23 inserts, two of which replaced an owner
    }

    @Test
    void kernelSelftestRemoveByPeer() {
        insertKernelRoutes();
        insert4(a, 1, 0, 0, 0, 32);
        insert4(a, 64, 0, 0, 0, 32);
        insert4(a, 128, 0, 0, 0, 32);
        insert4(a, 192, 0, 0, 0, 32);
        insert4(a, 255, 0, 0, 0, 32);
        t.removeByPeer(a);
        assertNotSame(a, lookup(ip4(1, 0, 0, 0)));
        assertNotSame(a, lookup(ip4(64, 0, 0, 0)));
        assertNotSame(a, lookup(ip4(128, 0, 0, 0)));
        assertNotSame(a, lookup(ip4(192, 0, 0, 0)));
        assertNotSame(a, lookup(ip4(255, 0, 0, 0)));
        assertTrue(t.prefixes(a).isEmpty());
        assertSame(e, lookup(ip4(1, 0, 0, 0)), "the default route is still there");
        assertSame(b, lookup(ip4(10, 0, 0, 220)), "b's routes are untouched");

        t.clear();
        insert4(a, 192, 168, 0, 0, 16);
        insert4(a, 192, 168, 0, 0, 24);
        t.removeByPeer(a);
        assertNull(lookup(ip4(192, 168, 0, 1)));
        assertEquals(0, t.nodeCount());
    }

    /** The single-prefix removals the kernel's selftest gained with WGALLOWEDIP_F_REMOVE_ME. */
    @Test
    void kernelSelftestRemove() {
        insertKernelRoutes();
        t.removeByPeer(a);
        insert4(a, 1, 0, 0, 0, 32);
        insert4(a, 192, 0, 0, 0, 24);
        insert6(a, 0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef, 128);
        insert6(a, 0x24446800, 0xf0e40800, 0xeeaebeef, 0, 98);
        assertSame(a, lookup(ip4(1, 0, 0, 0)));
        assertSame(a, lookup(ip4(192, 0, 0, 1)));
        assertSame(a, lookup(ip6(0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef)));
        assertSame(a, lookup(ip6(0x24446800, 0xf0e40800, 0xeeaebeef, 0x10101010)));

        assertFalse(remove4(a, 192, 0, 0, 0, 32), "must be an exact match to remove");
        assertSame(a, lookup(ip4(192, 0, 0, 1)));
        assertFalse(remove4(null, 192, 0, 0, 0, 24), "a null peer owns nothing");
        assertSame(a, lookup(ip4(192, 0, 0, 1)));
        assertFalse(remove4(b, 192, 0, 0, 0, 24), "a different peer removes nothing");
        assertSame(a, lookup(ip4(192, 0, 0, 1)));
        assertThrows(IllegalArgumentException.class, () -> remove4(b, 192, 0, 0, 0, 33));
        assertSame(a, lookup(ip4(192, 0, 0, 1)));
        assertTrue(remove4(a, 192, 0, 0, 0, 24));
        assertSame(e, lookup(ip4(192, 0, 0, 1)));
        assertTrue(remove4(a, 1, 0, 0, 0, 32));
        assertSame(e, lookup(ip4(1, 0, 0, 0)));

        assertFalse(remove6(a, 0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef, 96), "exact match only");
        assertSame(a, lookup(ip6(0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef)));
        assertFalse(remove6(null, 0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef, 128));
        assertFalse(remove6(b, 0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef, 128));
        assertSame(a, lookup(ip6(0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef)));
        assertThrows(IllegalArgumentException.class,
                () -> remove6(a, 0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef, 129));
        assertTrue(remove6(a, 0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef, 128));
        assertNotSame(a, lookup(ip6(0x24446801, 0x40e40800, 0xdeaebeef, 0x0defbeef)));
        assertFalse(remove6(b, 0x24446800, 0xf0e40800, 0xeeaebeef, 0, 98), "must match the peer");
        assertSame(a, lookup(ip6(0x24446800, 0xf0e40800, 0xeeaebeef, 0x10101010)));
        assertTrue(remove6(a, 0x24446800, 0xf0e40800, 0xeeaebeef, 0, 98));
        assertSame(f, lookup(ip6(0x24446800, 0xf0e40800, 0xeeaebeef, 0x10101010)), "falls back to ::/0");
        assertTrue(t.prefixes(a).isEmpty());
    }

    /** The kernel's deep-trie case: 129 /128s that differ in one bit each make a trie 128 levels deep. */
    @Test
    void kernelSelftestDeepTrie() {
        for (int i = 0; i < 64; i++) {
            long part = -1L << i;
            insert6(a, -1L, part, 128);
            insert6(a, part, 0, 128);
        }
        insert6(a, 0, 0, 128);
        assertEquals(129, t.size());
        for (int i = 0; i < 64; i++) {
            long part = -1L << i;
            assertSame(a, lookup(ip6(-1L, part)));
            assertSame(a, lookup(ip6(part, 0)));
        }
        assertNull(lookup(ip6(1, 0)));
        t.removeByPeer(a);
        assertEquals(0, t.nodeCount());
        assertEquals(0, t.size());
    }

    @Test
    void kernelSelftestPrefixesOfAPeer() {
        insert4(a, 192, 95, 5, 93, 27);
        insert6(a, 0x26075300, 0x60006b00, 0, 0xc05f0543, 128);
        insert4(a, 10, 1, 0, 20, 29);
        insert6(a, 0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523, 83);
        insert6(a, 0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523, 21);
        assertEquals(List.of(
                Prefix.parse("10.1.0.16/29"),
                Prefix.parse("192.95.5.64/27"),
                Prefix.parse("2607:5000::/21"),
                Prefix.parse("2607:5300:6000:6b00::c05f:543/128"),
                Prefix.parse("2607:5300:6d8a:6bf8:dab1:e000::/83")), t.prefixes(a));
        assertTrue(t.prefixes(b).isEmpty());
    }

    // ---- more cases ----

    @Test
    void emptyTableFindsNothing() {
        assertNull(lookup(ip4(1, 2, 3, 4)));
        assertNull(lookup(ip6(1, 2, 3, 4)));
        assertEquals(0, t.size());
        assertFalse(t.remove(Prefix.parse("0.0.0.0/0"), a));
        t.removeByPeer(a);
    }

    @Test
    void defaultRoutesAreSeparatePerFamily() {
        t.insert(Prefix.parse("0.0.0.0/0"), a);
        assertSame(a, lookup(ip4(255, 255, 255, 255)));
        assertNull(lookup(ip6(0, 0, 0, 0)), "IPv4's default route does not cover IPv6");
        t.insert(Prefix.parse("::/0"), b);
        assertSame(b, lookup(ip6(0xffffffff, 0, 0, 1)));
        assertSame(a, lookup(ip4(0, 0, 0, 0)));
        assertTrue(t.remove(Prefix.parse("0.0.0.0/0"), a));
        assertNull(lookup(ip4(0, 0, 0, 0)));
        assertSame(b, lookup(ip6(0, 0, 0, 0)));
    }

    @Test
    void removingACoveringPrefixKeepsTheMoreSpecificOnes() {
        t.insert(Prefix.parse("10.0.0.0/8"), a);
        t.insert(Prefix.parse("10.1.0.0/16"), b);
        t.insert(Prefix.parse("10.1.2.0/24"), c);
        t.insert(Prefix.parse("10.1.2.3/32"), d);
        assertTrue(t.remove(Prefix.parse("10.1.0.0/16"), b));
        assertSame(d, lookup(ip4(10, 1, 2, 3)));
        assertSame(c, lookup(ip4(10, 1, 2, 4)));
        assertSame(a, lookup(ip4(10, 1, 3, 0)), "10.1/16 is gone, 10/8 catches it");
        assertEquals(3, t.nodeCount());
    }

    @Test
    void reinsertingChangesTheOwnerAndTheOwnersLists() {
        Prefix p = Prefix.parse("fd00::/64");
        t.insert(p, a);
        t.insert(p, a);
        assertEquals(1, t.size());
        t.insert(p, b);
        assertEquals(1, t.size());
        assertSame(b, lookup(ip6(0xfd000000, 0, 0, 1)));
        assertTrue(t.prefixes(a).isEmpty());
        assertEquals(List.of(p), t.prefixes(b));
        assertFalse(t.remove(p, a), "a no longer owns it");
        assertTrue(t.remove(p, b));
        assertEquals(0, t.nodeCount());
    }

    @Test
    void looksUpAnAddressInsideAPacket() throws UnknownHostException {
        t.insert(Prefix.parse("10.0.0.0/24"), a);
        t.insert(Prefix.parse("fd00::/8"), b);
        byte[] packet = new byte[64];
        packet[16] = 10;
        packet[19] = 9; // an IPv4 header's destination, 10.0.0.9
        assertSame(a, t.lookup(packet, 16, 4));
        packet[24] = (byte) 0xfd; // an IPv6 header's destination, fd00::
        assertSame(b, t.lookup(packet, 24, 16));
        assertSame(a, t.lookup(InetAddress.getByName("10.0.0.255")));
        assertSame(b, t.lookup(InetAddress.getByName("fdff::1")));
        assertThrows(IllegalArgumentException.class, () -> t.lookup(packet, 0, 8));
        assertThrows(IndexOutOfBoundsException.class, () -> t.lookup(packet, 62, 4));
    }

    @Test
    void rejectsANullPeer() {
        assertThrows(NullPointerException.class, () -> t.insert(Prefix.parse("10.0.0.0/8"), null));
    }

    @Test
    void clearEmptiesEverything() {
        insertKernelRoutes();
        t.clear();
        assertEquals(0, t.size());
        assertEquals(0, t.nodeCount());
        assertTrue(t.prefixes(a).isEmpty());
        assertNull(lookup(ip4(10, 1, 0, 20)));
    }

    // ---- randomised, against the reference ----

    @Test
    void churnLeavesNoNodesBehind() {
        Random rnd = new Random(1);
        RouteGen gen = new RouteGen(rnd);
        List<Prefix> inserted = new ArrayList<>();
        Peer[] peers = {a, b, c, d};
        for (int i = 0; i < 10_000; i++) {
            Prefix p = gen.route(rnd.nextBoolean());
            t.insert(p, peers[rnd.nextInt(peers.length)]);
            inserted.add(p);
            if (i % 1000 == 999) {
                assertTrue(t.nodeCount() <= 2 * t.size() - 1, "only branch nodes come on top of routes");
            }
        }
        Collections.shuffle(inserted, rnd);
        for (Prefix p : inserted) {
            for (Peer peer : peers) {
                t.remove(p, peer);
            }
        }
        assertEquals(0, t.size());
        assertEquals(0, t.nodeCount());
    }

    @Test
    void matchesTheReferenceWhileRoutesChange() {
        Random rnd = new Random(42);
        RouteGen gen = new RouteGen(rnd);
        ReferenceAllowedIps<Peer> ref = new ReferenceAllowedIps<>();
        Peer[] peers = new Peer[50];
        for (int i = 0; i < peers.length; i++) {
            peers[i] = new Peer("p" + i);
        }
        for (int i = 0; i < 2_000; i++) {
            Prefix p = gen.route(rnd.nextBoolean());
            Peer peer = peers[rnd.nextInt(peers.length)];
            t.insert(p, peer);
            ref.insert(p, peer);
        }
        for (int i = 0; i < 20_000; i++) {
            if (i % 10 == 0) {
                mutate(rnd, gen, ref, peers);
            }
            byte[] addr = gen.address(rnd.nextBoolean());
            assertSame(ref.lookup(addr, 0, addr.length), lookup(addr), () -> "lookup of " + hex(addr));
        }
        assertSameContents(ref, peers);
    }

    /**
     * All routes inside one prefix, as in a real IPv6 deployment (everything under fd00::/8) or a cluster's IPv4
     * range: the lookup table then starts after the root's prefix. Lengths from short to longer than the
     * address minus 8 bits, where the table's window is clamped to the address's last byte.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"10.0.0.0/8", "10.1.2.0/24", "10.1.2.240/28",
        "10.1.2.3/32", "fd00::/8", "fd00:1234::/32", "fd00:1:2:3::/64", "fd00:1:2:3:4:5:6:0/122"})
    void matchesTheReferenceWhenEveryRouteSharesAPrefix(String base) {
        Prefix within = Prefix.parse(base);
        byte[] baseBytes = within.addressBytes();
        Random rnd = new Random(base.hashCode());
        RouteGen gen = new RouteGen(rnd);
        ReferenceAllowedIps<Peer> ref = new ReferenceAllowedIps<>();
        Peer[] peers = {new Peer("a"), new Peer("b"), new Peer("c"), new Peer("d")};
        boolean v4 = within.isV4();
        java.util.function.UnaryOperator<byte[]> inside = raw -> {
            for (int i = 0; i < raw.length; i++) {
                int m = 0xff00 >>> Math.clamp(within.bits() - 8L * i, 0, 8) & 0xff;
                raw[i] = (byte) (baseBytes[i] & m | raw[i] & ~m);
            }
            return raw;
        };
        for (int i = 0; i < 1_000; i++) {
            byte[] raw = inside.apply(gen.address(v4));
            int bits = within.bits() + rnd.nextInt(raw.length * 8 - within.bits() + 1);
            Prefix p = prefix(raw, bits);
            Peer peer = peers[rnd.nextInt(peers.length)];
            t.insert(p, peer);
            ref.insert(p, peer);
            if (i % 7 == 0) {
                List<Prefix> all = ref.all();
                Prefix gone = all.get(rnd.nextInt(all.size()));
                Peer owner = ref.owner(gone);
                assertEquals(ref.remove(gone, owner), t.remove(gone, owner));
            }
            for (int j = 0; j < 10; j++) {
                byte[] addr = j % 3 == 0 ? gen.address(v4) : inside.apply(gen.address(v4));
                assertSame(ref.lookup(addr, 0, addr.length), lookup(addr), () -> "lookup of " + hex(addr));
            }
        }
        assertSameContents(ref, peers);
    }

    private void mutate(Random rnd, RouteGen gen, ReferenceAllowedIps<Peer> ref, Peer[] peers) {
        int what = rnd.nextInt(10);
        Peer peer = peers[rnd.nextInt(peers.length)];
        List<Prefix> all = ref.all();
        if (what < 4 || all.isEmpty()) {
            Prefix p = gen.route(rnd.nextBoolean());
            t.insert(p, peer);
            ref.insert(p, peer);
        } else if (what < 9) {
            Prefix p = all.get(rnd.nextInt(all.size()));
            Peer who = rnd.nextBoolean() ? ref.owner(p) : peer; // the owner, or maybe someone else
            assertEquals(ref.remove(p, who), t.remove(p, who));
        } else {
            ref.removeByPeer(peer);
            t.removeByPeer(peer);
        }
    }

    private void assertSameContents(ReferenceAllowedIps<Peer> ref, Peer[] peers) {
        assertEquals(ref.size(), t.size());
        for (Peer peer : peers) {
            assertEquals(ref.prefixes(peer), t.prefixes(peer), peer.name());
        }
        assertTrue(t.nodeCount() <= Math.max(0, 2 * t.size() - 1), "branch nodes are pruned");
    }

    // ---- helpers ----

    /**
     * Random routes that overlap, as the kernel's randomized selftest makes them: most are a known route's
     * address with the bits after a random point re-randomised, with a random length, so routes nest and share
     * long prefixes instead of scattering over the whole address space.
     */
    static final class RouteGen {
        private final Random rnd;
        private final List<byte[]> seen4 = new ArrayList<>();
        private final List<byte[]> seen6 = new ArrayList<>();

        RouteGen(Random rnd) {
            this.rnd = rnd;
        }

        Prefix route(boolean v4) {
            byte[] raw = address(v4);
            (v4 ? seen4 : seen6).add(raw);
            return prefix(raw, rnd.nextInt(raw.length * 8 + 1));
        }

        /** An address near a route seen before (or anywhere, a quarter of the time). */
        byte[] address(boolean v4) {
            List<byte[]> seen = v4 ? seen4 : seen6;
            byte[] raw = new byte[v4 ? 4 : 16];
            rnd.nextBytes(raw);
            if (seen.isEmpty() || rnd.nextInt(4) == 0) {
                return raw;
            }
            byte[] near = seen.get(rnd.nextInt(seen.size())).clone();
            int keep = rnd.nextInt(raw.length * 8 + 1);
            for (int i = 0; i < raw.length; i++) {
                int m = 0xff00 >>> Math.clamp(keep - 8L * i, 0, 8) & 0xff;
                near[i] = (byte) (near[i] & m | raw[i] & ~m);
            }
            return near;
        }
    }

    static Prefix prefix(byte[] raw, int bits) {
        return new Prefix(inet(raw), bits);
    }

    /** The address of these bytes, keeping 16 bytes IPv6 even when they happen to be IPv4-mapped. */
    static InetAddress inet(byte[] raw) {
        try {
            return raw.length == 4 ? InetAddress.getByAddress(raw) : Inet6Address.getByAddress(null, raw, -1);
        } catch (UnknownHostException ex) {
            throw new AssertionError(ex);
        }
    }

    private Peer lookup(byte[] addr) {
        return t.lookup(addr, 0, addr.length);
    }

    private void insert4(Peer p, int b0, int b1, int b2, int b3, int cidr) {
        t.insert(prefix(ip4(b0, b1, b2, b3), cidr), p);
    }

    private void insert6(Peer p, int w0, int w1, int w2, int w3, int cidr) {
        t.insert(prefix(ip6(w0, w1, w2, w3), cidr), p);
    }

    private void insert6(Peer p, long hi, long lo, int cidr) {
        t.insert(prefix(ip6(hi, lo), cidr), p);
    }

    private boolean remove4(Peer p, int b0, int b1, int b2, int b3, int cidr) {
        return t.remove(prefix(ip4(b0, b1, b2, b3), cidr), p);
    }

    private boolean remove6(Peer p, int w0, int w1, int w2, int w3, int cidr) {
        return t.remove(prefix(ip6(w0, w1, w2, w3), cidr), p);
    }

    static byte[] ip4(int b0, int b1, int b2, int b3) {
        return new byte[] {(byte) b0, (byte) b1, (byte) b2, (byte) b3};
    }

    /** An IPv6 address from four 32-bit words in host order, like the kernel selftest's ip6(). */
    static byte[] ip6(int w0, int w1, int w2, int w3) {
        return ByteBuffer.allocate(16).putInt(w0).putInt(w1).putInt(w2).putInt(w3).array();
    }

    static byte[] ip6(long hi, long lo) {
        return ByteBuffer.allocate(16).putLong(hi).putLong(lo).array();
    }

    private static String hex(byte[] raw) {
        return HexFormat.of().formatHex(raw);
    }
}
