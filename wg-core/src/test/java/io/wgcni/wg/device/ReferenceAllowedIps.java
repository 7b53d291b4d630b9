package io.wgcni.wg.device;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The obviously-right routing table the tests compare {@link AllowedIps} with: a list of (prefix, peer) scanned
 * for the longest match, like the "horrible_allowedips" of the kernel's selftest. Peers compare by identity.
 */
final class ReferenceAllowedIps<P> {
    static final Comparator<Prefix> ORDER = Comparator.comparing((Prefix p) -> !p.isV4())
            .thenComparing(Prefix::addressBytes, java.util.Arrays::compareUnsigned)
            .thenComparingInt(Prefix::bits);

    private record Entry<P>(Prefix prefix, byte[] raw, P peer) {
        boolean matches(byte[] buf, int off, int len) {
            if (raw.length != len) {
                return false;
            }
            for (int i = 0; i < len; i++) {
                int keep = Math.clamp(prefix.bits() - 8L * i, 0, 8);
                int mask = 0xff00 >>> keep & 0xff;
                if (((buf[off + i] ^ raw[i]) & mask) != 0) {
                    return false;
                }
            }
            return true;
        }
    }

    private final List<Entry<P>> entries = new ArrayList<>();

    void insert(Prefix prefix, P peer) {
        entries.removeIf(e -> e.prefix.equals(prefix));
        entries.add(new Entry<>(prefix, prefix.addressBytes(), peer));
    }

    boolean remove(Prefix prefix, P peer) {
        return entries.removeIf(e -> e.prefix.equals(prefix) && e.peer == peer);
    }

    void removeByPeer(P peer) {
        entries.removeIf(e -> e.peer == peer);
    }

    P lookup(byte[] buf, int off, int len) {
        Entry<P> best = null;
        for (Entry<P> e : entries) {
            if (e.matches(buf, off, len) && (best == null || e.prefix.bits() > best.prefix.bits())) {
                best = e;
            }
        }
        return best == null ? null : best.peer;
    }

    /** The owner of exactly {@code prefix}, or null. */
    P owner(Prefix prefix) {
        return entries.stream().filter(e -> e.prefix.equals(prefix)).map(Entry::peer).findFirst().orElse(null);
    }

    List<Prefix> prefixes(P peer) {
        return entries.stream().filter(e -> e.peer == peer).map(Entry::prefix).sorted(ORDER).toList();
    }

    List<Prefix> all() {
        return entries.stream().map(Entry::prefix).toList();
    }

    int size() {
        return entries.size();
    }
}
