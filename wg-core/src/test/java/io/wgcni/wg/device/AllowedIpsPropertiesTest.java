package io.wgcni.wg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.wgcni.wg.device.AllowedIpsTest.Peer;
import java.nio.ByteBuffer;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random sequences of inserts, removals and lookups, run on {@link AllowedIps} and on the reference list side by
 * side. Addresses come from a small space (a few bits at each end of the address, the rest zero) so that routes
 * nest, collide on exact prefixes and share long paths: the cases where a trie goes wrong.
 */
class AllowedIpsPropertiesTest {
    private static final Peer[] PEERS = {new Peer("a"), new Peer("b"), new Peer("c"), new Peer("d")};

    /** kind: 0-3 insert, 4 remove (addr, bits), 5 remove an existing route, 6 remove by peer, 7-9 lookup. */
    record Op(int kind, byte[] addr, int bits, int peer, int pick) {}

    @Property(tries = 300)
    void v4MatchesTheReference(@ForAll("ops4") List<Op> ops) {
        run(ops);
    }

    @Property(tries = 300)
    void v6MatchesTheReference(@ForAll("ops6") List<Op> ops) {
        run(ops);
    }

    @Provide
    Arbitrary<List<Op>> ops4() {
        Arbitrary<byte[]> addr = Arbitraries.integers().between(0, 4095)
                .map(x -> ByteBuffer.allocate(4).putInt((x >>> 6) << 26 | (x & 63)).array());
        return ops(addr, 32);
    }

    @Provide
    Arbitrary<List<Op>> ops6() {
        Arbitrary<byte[]> addr = Arbitraries.integers().between(0, 65535).map(x -> ByteBuffer.allocate(16)
                .putLong((long) (x >>> 10) << 58 | (x >>> 8 & 3))
                .putLong((long) (x >>> 4 & 15) << 60 | (x & 15))
                .array());
        return ops(addr, 128);
    }

    private static Arbitrary<List<Op>> ops(Arbitrary<byte[]> addr, int maxBits) {
        return Combinators.combine(
                        Arbitraries.integers().between(0, 9),
                        addr,
                        Arbitraries.integers().between(0, maxBits),
                        Arbitraries.integers().between(0, PEERS.length - 1),
                        Arbitraries.integers().between(0, 999))
                .as(Op::new)
                .list()
                .ofMaxSize(150);
    }

    private static void run(List<Op> ops) {
        AllowedIps<Peer> table = new AllowedIps<>();
        ReferenceAllowedIps<Peer> ref = new ReferenceAllowedIps<>();
        for (Op op : ops) {
            apply(op, table, ref);
        }
        for (Op op : ops) {
            assertSame(ref.lookup(op.addr, 0, op.addr.length), table.lookup(op.addr, 0, op.addr.length));
        }
        assertEquals(ref.size(), table.size());
        for (Peer peer : PEERS) {
            assertEquals(ref.prefixes(peer), table.prefixes(peer));
        }
        assertTrue(table.nodeCount() <= Math.max(0, 2 * table.size() - 1));
    }

    private static void apply(Op op, AllowedIps<Peer> table, ReferenceAllowedIps<Peer> ref) {
        Prefix prefix = AllowedIpsTest.prefix(op.addr, op.bits);
        Peer peer = PEERS[op.peer];
        switch (op.kind) {
            case 0, 1, 2, 3 -> {
                table.insert(prefix, peer);
                ref.insert(prefix, peer);
            }
            case 4 -> assertEquals(ref.remove(prefix, peer), table.remove(prefix, peer));
            case 5 -> {
                List<Prefix> all = ref.all();
                if (!all.isEmpty()) {
                    Prefix existing = all.get(op.pick % all.size());
                    Peer who = op.pick % 3 == 0 ? peer : ref.owner(existing);
                    assertEquals(ref.remove(existing, who), table.remove(existing, who));
                }
            }
            case 6 -> {
                table.removeByPeer(peer);
                ref.removeByPeer(peer);
            }
            default -> assertSame(ref.lookup(op.addr, 0, op.addr.length), table.lookup(op.addr, 0, op.addr.length));
        }
    }
}
