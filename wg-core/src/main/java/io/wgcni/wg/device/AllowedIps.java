package io.wgcni.wg.device;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The cryptokey routing table: IP prefixes mapped to the peer that owns them, with longest-prefix-match lookup.
 * One path-compressed binary trie per address family, shaped like the Linux kernel's allowedips.c: a node holds
 * a prefix; a node without a peer exists only to branch (it always has two children), so the trie never holds
 * more than {@code 2 * size() - 1} nodes and a lookup visits at most 33 (IPv4) or 129 (IPv6) of them.
 *
 * <p>One addition to the kernel's design: each version of a trie carries a 256-entry table of where a walk
 * stands after the 8 address bits that follow the root's prefix, so a lookup starts there instead of at the
 * root. The top levels are in cache, but their branch directions are random, and skipping them halves the
 * lookup time of a large table.
 *
 * <p>Concurrency: the nodes are immutable and a write copies the path from the root down to the node it changes
 * (a persistent trie), builds the new version's table, then publishes the version with one volatile write. A
 * lookup reads the version once and walks final fields, so it takes no lock, never blocks on a writer, and always
 * sees one whole version of the table, never a half-applied change. Writers are serialised by
 * {@code synchronized}; they copy O(depth) nodes and fill 256 table entries, which is cheap for the rare
 * configuration changes this table sees. Peers are compared by identity.
 */
public final class AllowedIps<P> {
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONG_BE =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private volatile Version v4 = Version.EMPTY;
    private volatile Version v6 = Version.EMPTY;

    /** Which prefixes each peer owns, for prefixes() and removeByPeer(). Guarded by {@code this}. */
    private final Map<P, Set<Prefix>> owned = new IdentityHashMap<>();
    private int size;

    /** Routes {@code prefix} to {@code peer}, taking it over if another peer owned exactly this prefix. */
    public synchronized void insert(Prefix prefix, P peer) {
        Objects.requireNonNull(peer, "peer");
        RouteKey k = RouteKey.of(prefix);
        Object old = ownerOf(k);
        if (old == peer) {
            return;
        }
        if (old == null) {
            size++;
        } else {
            disown(old, prefix);
        }
        owned.computeIfAbsent(peer, p -> new HashSet<>()).add(prefix);
        publish(k, put(root(k), k, peer));
    }

    /**
     * The peer owning the longest prefix that contains the address at {@code buf[off, off + len)} (network byte
     * order, {@code len} 4 or 16), or null. The data-plane hot path: it reads the address in place and allocates
     * nothing.
     */
    public P lookup(byte[] buf, int off, int len) {
        return switch (len) {
            case 4 -> lookup4((int) INT_BE.get(buf, off));
            case 16 -> lookup6((long) LONG_BE.get(buf, off), (long) LONG_BE.get(buf, off + 8));
            default -> throw new IllegalArgumentException("an IP address is 4 or 16 bytes, not " + len);
        };
    }

    public P lookup(InetAddress address) {
        byte[] raw = address.getAddress();
        return lookup(raw, 0, raw.length);
    }

    /** Removes exactly {@code prefix}, and only if {@code peer} owns it. Returns whether it removed. */
    public synchronized boolean remove(Prefix prefix, P peer) {
        RouteKey k = RouteKey.of(prefix);
        if (peer == null || ownerOf(k) != peer) {
            return false;
        }
        disown(peer, prefix);
        publish(k, delete(root(k), k));
        size--;
        return true;
    }

    /** Removes all of {@code peer}'s prefixes; a lookup sees either all of them or none (per family). */
    public synchronized void removeByPeer(P peer) {
        Set<Prefix> prefixes = owned.remove(peer);
        if (prefixes == null) {
            return;
        }
        Node root4 = v4.root;
        Node root6 = v6.root;
        for (Prefix prefix : prefixes) {
            RouteKey k = RouteKey.of(prefix);
            if (k.v4) {
                root4 = delete(root4, k);
            } else {
                root6 = delete(root6, k);
            }
        }
        v4 = root4 == v4.root ? v4 : new Version(root4);
        v6 = root6 == v6.root ? v6 : new Version(root6);
        size -= prefixes.size();
    }

    /** The prefixes {@code peer} owns, IPv4 first, each family sorted by address then length. */
    public synchronized List<Prefix> prefixes(P peer) {
        List<Prefix> list = new ArrayList<>(owned.getOrDefault(peer, Set.of()));
        list.sort(AllowedIps::compare);
        return list;
    }

    /** The number of prefixes in the table. */
    public synchronized int size() {
        return size;
    }

    public synchronized void clear() {
        v4 = Version.EMPTY;
        v6 = Version.EMPTY;
        owned.clear();
        size = 0;
    }

    /** Nodes in both tries, branch nodes included: for tests that check removal prunes. */
    synchronized int nodeCount() {
        return count(v4.root) + count(v6.root);
    }

    // ---- lookup ----

    /**
     * Starts where the version's table says a walk stands 8 bits past the root's prefix. A node matches when its first
     * {@code cidr} bits equal the address's; the walk then goes on by the address's next bit. A /32 node has no
     * children, so there is no depth check: the child it picks (Java takes a shift of 32 as 0) is null either way.
     */
    @SuppressWarnings("unchecked")
    private P lookup4(int a) {
        Version v = v4;
        Node4 root = (Node4) v.root;
        // Every route lies inside the root's prefix, so an address outside it matches nothing.
        if (root == null || Integer.numberOfLeadingZeros(a ^ root.key) < root.cidr) {
            return null;
        }
        int top = (a << v.skip) >>> 24;
        Object found = v.found[top];
        for (Node4 n = (Node4) v.next[top]; n != null; n = (a << n.cidr) < 0 ? n.one : n.zero) {
            if (Integer.numberOfLeadingZeros(a ^ n.key) < n.cidr) {
                break;
            }
            if (n.peer != null) {
                found = n.peer;
            }
        }
        return (P) found;
    }

    @SuppressWarnings("unchecked")
    private P lookup6(long hi, long lo) {
        Version v = v6;
        Node6 root = (Node6) v.root;
        if (root == null || !root.covers(hi, lo)) {
            return null;
        }
        int top = byteAt(hi, lo, v.skip);
        Object found = v.found[top];
        for (Node6 n = (Node6) v.next[top]; n != null; n = bitAt(hi, lo, n.cidr) ? n.one : n.zero) {
            if (!n.covers(hi, lo)) {
                break;
            }
            if (n.peer != null) {
                found = n.peer;
            }
        }
        return (P) found;
    }

    /**
     * Bit {@code i} (0 = most significant) of the 128-bit key {@code hi:lo}. Java masks a long shift count to
     * six bits, so {@code lo << i} for i in 64..127 is exactly {@code lo << (i - 64)}.
     */
    private static boolean bitAt(long hi, long lo, int i) {
        return ((i < 64 ? hi : lo) << i) < 0;
    }

    /** Bits {@code s .. s+7} of the 128-bit key {@code hi:lo}, for s in 0..120. */
    private static int byteAt(long hi, long lo, int s) {
        if (s == 0) {
            return (int) (hi >>> 56);
        }
        if (s < 64) {
            return (int) (((hi << s) | (lo >>> (64 - s))) >>> 56);
        }
        return (int) ((lo << (s - 64)) >>> 56);
    }

    // ---- writes: persistent (path-copying) insert and delete ----

    private Node root(RouteKey k) {
        return (k.v4 ? v4 : v6).root;
    }

    private void publish(RouteKey k, Node root) {
        if (k.v4) {
            v4 = new Version(root);
        } else {
            v6 = new Version(root);
        }
    }

    /** The peer owning exactly {@code k}, or null (a branch node with that prefix owns nothing). */
    private Object ownerOf(RouteKey k) {
        Node n = root(k);
        while (n != null && n.cidr <= k.cidr && n.commonBits(k) >= n.cidr) {
            if (n.cidr == k.cidr) {
                return n.peer;
            }
            n = n.child(k.bit(n.cidr));
        }
        return null;
    }

    /** Returns a copy of subtree {@code n} with {@code k} routed to {@code peer}; {@code n} is left untouched. */
    private static Node put(Node n, RouteKey k, Object peer) {
        if (n == null) {
            return k.node(k.cidr, peer, null, null);
        }
        int common = Math.min(n.commonBits(k), Math.min(n.cidr, k.cidr));
        if (common == n.cidr) {
            // n's prefix contains k: replace n's peer, or descend on the side k's next bit picks.
            if (n.cidr == k.cidr) {
                return n.copy(peer, n.child(false), n.child(true));
            }
            boolean bit = k.bit(n.cidr);
            Node child = put(n.child(bit), k, peer);
            return n.copy(n.peer, bit ? n.child(false) : child, bit ? child : n.child(true));
        }
        if (common == k.cidr) {
            // k contains n: the new node goes above n.
            boolean nBit = n.bit(k.cidr);
            return k.node(k.cidr, peer, nBit ? null : n, nBit ? n : null);
        }
        // They part at bit `common`, where n has one value and k the other: a peerless branch node takes both.
        Node leaf = k.node(k.cidr, peer, null, null);
        boolean kBit = k.bit(common);
        return k.node(common, null, kBit ? n : leaf, kBit ? leaf : n);
    }

    /** Returns a copy of subtree {@code n} without {@code k}'s peer, which must be there, pruned and merged. */
    private static Node delete(Node n, RouteKey k) {
        if (n.cidr == k.cidr) {
            return join(n, null, n.child(false), n.child(true));
        }
        boolean bit = k.bit(n.cidr);
        Node child = delete(n.child(bit), k);
        return join(n, n.peer, bit ? n.child(false) : child, bit ? child : n.child(true));
    }

    /**
     * A copy of {@code n} with this peer and children, unless it would be a peerless node with fewer than two
     * children: then its only child (or null) takes its place. This keeps the trie path-compressed as routes go,
     * so churn doesn't grow it.
     */
    private static Node join(Node n, Object peer, Node zero, Node one) {
        if (peer == null && (zero == null || one == null)) {
            return zero != null ? zero : one;
        }
        return n.copy(peer, zero, one);
    }

    private void disown(Object peer, Prefix prefix) {
        Set<Prefix> set = owned.get(peer);
        set.remove(prefix);
        if (set.isEmpty()) {
            owned.remove(peer); // don't keep a removed peer reachable from here
        }
    }

    private static int count(Node n) {
        return n == null ? 0 : 1 + count(n.child(false)) + count(n.child(true));
    }

    private static int compare(Prefix a, Prefix b) {
        int c = Boolean.compare(b.isV4(), a.isV4());
        if (c == 0) {
            c = Arrays.compareUnsigned(a.addressBytes(), b.addressBytes());
        }
        return c != 0 ? c : Integer.compare(a.bits(), b.bits());
    }

    /** The first {@code bits} bits set, of the high word of a 128-bit key. */
    private static long maskHi(int bits) {
        return bits == 0 ? 0 : -1L << (64 - Math.min(bits, 64));
    }

    private static long maskLo(int bits) {
        return bits <= 64 ? 0 : -1L << (128 - bits);
    }

    /**
     * One immutable version of a trie: its root, and for each value of the 8 address bits that follow the root's
     * prefix ({@code skip} of them, up to the last 8 of the address), the state of a walk from the root once it
     * has passed every node shorter than {@code skip + 8}: the peer found so far and the node to go on from, or
     * null where the walk has ended. Starting after the root's prefix matters when every route shares leading
     * bits, as IPv6 routes do (all of fd00::/8, say): a table on the first 8 bits would then skip nothing.
     */
    private static final class Version {
        static final Version EMPTY = new Version(null);

        final Node root;
        final int skip;
        final Node[] next = new Node[256];
        final Object[] found = new Object[256];

        Version(Node root) {
            this.root = root;
            this.skip = root == null ? 0 : Math.min(root.cidr, (root instanceof Node4 ? 32 : 128) - 8);
            fill(root, 0, 256, null);
        }

        /** Fills entries [from, to), whose walks all arrive at {@code n} having found {@code above}. */
        private void fill(Node n, int from, int to, Object above) {
            if (n == null || n.cidr >= skip + 8) {
                Arrays.fill(next, from, to, n);
                Arrays.fill(found, from, to, above);
                return;
            }
            // Entries outside n's prefix stop here; the rest go on by bit `cidr`, the first after n's prefix.
            int start = n.byteAt(skip);
            int end = start + (256 >>> (n.cidr - skip));
            fill(null, from, start, above);
            fill(null, end, to, above);
            Object best = n.peer != null ? n.peer : above;
            int middle = (start + end) >>> 1;
            fill(n.child(false), start, middle, best);
            fill(n.child(true), middle, end, best);
        }
    }

    /** A prefix as a 128-bit key {@code hi:lo}, for the write path; an IPv4 address fills the top of {@code hi}. */
    private record RouteKey(long hi, long lo, int cidr, boolean v4) {
        static RouteKey of(Prefix prefix) {
            byte[] raw = prefix.addressBytes();
            if (raw.length == 4) {
                return new RouteKey((long) (int) INT_BE.get(raw, 0) << 32, 0, prefix.bits(), true);
            }
            return new RouteKey((long) LONG_BE.get(raw, 0), (long) LONG_BE.get(raw, 8), prefix.bits(), false);
        }

        boolean bit(int i) {
            return bitAt(hi, lo, i);
        }

        /** A node for this key cut to its first {@code bits} bits. */
        Node node(int bits, Object peer, Node zero, Node one) {
            if (v4) {
                return new Node4((int) ((hi & maskHi(bits)) >>> 32), bits, peer, (Node4) zero, (Node4) one);
            }
            return new Node6(hi & maskHi(bits), lo & maskLo(bits), bits, peer, (Node6) zero, (Node6) one);
        }
    }

    /**
     * An immutable trie node: a prefix of {@code cidr} bits (host bits zero), its peer or null for a branch node,
     * and the subtries whose next bit after the prefix is 0 and 1. The write path works on this type; the
     * lookups walk the concrete classes, whose key fields fit the family (an IPv4 node is 32 bytes, small nodes
     * being what keeps a deep walk in cache) and whose calls stay monomorphic.
     */
    private abstract static sealed class Node permits Node4, Node6 {
        final int cidr;
        final Object peer;

        Node(int cidr, Object peer) {
            this.cidr = cidr;
            this.peer = peer;
        }

        abstract Node child(boolean bit);

        /** Bit {@code i} of this node's key. */
        abstract boolean bit(int i);

        /** Leading bits this node's key shares with {@code k} (more than {@code cidr} is possible). */
        abstract int commonBits(RouteKey k);

        /** This node's prefix with another peer and children. */
        abstract Node copy(Object peer, Node zero, Node one);

        /** The first 8 bits of this node's key. */
        /** Bits {@code s .. s+7} of this node's key. */
        abstract int byteAt(int s);
    }

    private static final class Node4 extends Node {
        final int key;
        final Node4 zero;
        final Node4 one;

        Node4(int key, int cidr, Object peer, Node4 zero, Node4 one) {
            super(cidr, peer);
            this.key = key;
            this.zero = zero;
            this.one = one;
        }

        @Override
        Node child(boolean bit) {
            return bit ? one : zero;
        }

        @Override
        boolean bit(int i) {
            return (key << i) < 0;
        }

        @Override
        int commonBits(RouteKey k) {
            return Integer.numberOfLeadingZeros(key ^ (int) (k.hi >>> 32));
        }

        @Override
        Node copy(Object p, Node z, Node o) {
            return new Node4(key, cidr, p, (Node4) z, (Node4) o);
        }

        @Override
        int byteAt(int s) {
            return (key << s) >>> 24;
        }
    }

    private static final class Node6 extends Node {
        final long hi;
        final long lo;
        final Node6 zero;
        final Node6 one;

        Node6(long hi, long lo, int cidr, Object peer, Node6 zero, Node6 one) {
            super(cidr, peer);
            this.hi = hi;
            this.lo = lo;
            this.zero = zero;
            this.one = one;
        }

        @Override
        Node child(boolean bit) {
            return bit ? one : zero;
        }

        @Override
        boolean bit(int i) {
            return bitAt(hi, lo, i);
        }

        @Override
        int commonBits(RouteKey k) {
            return k.hi != hi ? Long.numberOfLeadingZeros(k.hi ^ hi) : 64 + Long.numberOfLeadingZeros(k.lo ^ lo);
        }

        @Override
        Node copy(Object p, Node z, Node o) {
            return new Node6(hi, lo, cidr, p, (Node6) z, (Node6) o);
        }

        @Override
        int byteAt(int s) {
            return AllowedIps.byteAt(hi, lo, s);
        }

        /** Whether this node's prefix contains the address {@code khi:klo}: the kernel's prefix_matches. */
        boolean covers(long khi, long klo) {
            return cidr <= 64
                    ? Long.numberOfLeadingZeros(khi ^ hi) >= cidr
                    : khi == hi && Long.numberOfLeadingZeros(klo ^ lo) >= cidr - 64;
        }
    }
}
